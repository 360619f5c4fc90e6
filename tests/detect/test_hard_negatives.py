"""Hand-written scenarios: each hard negative the incumbents' users complained about stays
unflagged by default, its positive twin is flagged, and parity profiles reproduce the tools."""

from __future__ import annotations

from typing import Any

import pytest

from uxtop.batch import INT_NA, NONE_ID, STRING_TABLES
from uxtop.detect import DetectConfig, Detector, FlagBatch, FlagKind
from uxtop.schema import Kind

from .gen import T0, build_batch


class Story:
    """A one-session scenario written as user actions; ``flags()`` runs the detector."""

    def __init__(self) -> None:
        self.t = T0
        self.events: list[dict[str, Any]] = []
        self.tables: dict[str, list[str]] = {t: [] for t in STRING_TABLES}
        self.url = self.intern("url", "/p")

    def intern(self, table: str, s: str | None) -> int:
        if s is None:
            return NONE_ID
        lst = self.tables[table]
        if s not in lst:
            lst.append(s)
        return lst.index(s)

    def at(self, dt: int) -> Story:
        self.t += dt
        return self

    def ev(self, kind: Kind, target: str | None = None, tag: str | None = None, **kw: Any) -> Story:
        e = {
            "ts": self.t,
            "kind": int(kind),
            "url": self.url,
            "target": self.intern("target", target),
            "tag": self.intern("tag", tag),
            "x": INT_NA,
            "y": INT_NA,
            "sy": INT_NA,
            "value": float("nan"),
            "status": 0,
            "flags": 0,
            "row": len(self.events),
        }
        e.update(kw)
        self.events.append(e)
        return self

    def click(self, target: str, tag: str, x: int = 500, y: int = 300, **kw: Any) -> Story:
        return self.ev(Kind.CLICK, target, tag, x=x, y=y, **kw)

    def page(self, url: str) -> Story:
        self.url = self.intern("url", url)
        return self.ev(Kind.PAGEVIEW)

    def flags(self, profile: str = "uxtop") -> FlagBatch:
        det = Detector(DetectConfig.for_profile(profile))
        return FlagBatch.concat([det.update(build_batch([self.events]), self.tables), det.finish()])


def kinds(fb: FlagBatch) -> set[str]:
    return {FlagKind(k).label for k in fb.kind.tolist()}


BUTTON = ('button#buy "Buy now"', "button")


def test_rage_on_a_button_is_flagged_once_with_its_count():
    s = Story().page("/p")
    for _ in range(5):
        s.at(250).click(*BUTTON).at(30).ev(Kind.MUTATION, "div.x", "div")
    fb = s.flags().of_kind(FlagKind.RAGE_CLICK)
    assert len(fb) == 1 and int(fb.count[0]) == 5


@pytest.mark.parametrize(
    "target",
    [
        'button.qty-plus "+"',
        'button.qty-minus "−"',
        'a.pager "Next ›"',
        'button.carousel-arrow "›"',
        'a.page "previous"',
    ],
)
def test_steppers_and_pagers_clicked_fast_are_not_rage(target):
    s = Story().page("/p")
    for _ in range(6):
        s.at(200).click(target, "button").at(40).ev(Kind.MUTATION, "div.qty", "div")
    assert "rage_click" not in kinds(s.flags())
    assert "rage_click" in kinds(s.flags("datadog"))  # Datadog has no stepper suppression


def test_triple_click_text_selection_is_neither_rage_nor_dead():
    s = Story().page("/p").at(500).click("p.description", "p").at(120).click("p.description", "p")
    s.ev(Kind.DBLCLICK, "p.description", "p", x=500, y=300).at(120).click("p.description", "p")
    s.ev(Kind.SELECTION, "p.description", "p")
    s.at(9000).ev(Kind.MOVE, x=10, y=10)
    assert not kinds(s.flags()) & {"rage_click", "dead_click"}


def test_triple_click_in_a_text_field_is_not_rage():
    s = Story().page("/p")
    for _ in range(3):
        s.at(110).click("input#q", "input[type=search]")
    assert "rage_click" not in kinds(s.flags())


def test_two_fast_double_clicks_are_not_rage_unless_the_profile_does_not_fold_them():
    s = Story().page("/p")
    for _ in range(2):
        s.at(600).click("img.gallery", "img").at(120).click("img.gallery", "img")
        s.ev(Kind.DBLCLICK, "img.gallery", "img", x=500, y=300).at(30).ev(
            Kind.MUTATION, "div.zoom", "div"
        )
    assert "rage_click" not in kinds(s.flags())
    assert "rage_click" in kinds(s.flags("posthog"))  # 4 clicks within 1 s and 30 px


@pytest.mark.parametrize(
    "target,tag",
    [
        ('a.spec[download] "PDF"', "a[download]"),
        ('a.help[target=_blank] "Size guide"', "a[target=_blank]"),
    ],
)
def test_download_and_new_tab_links_are_not_dead(target, tag):
    s = Story().page("/p").at(800).click(target, tag).at(9000).ev(Kind.MOVE, x=1, y=1)
    assert "dead_click" not in kinds(s.flags())


def test_click_that_scrolls_is_neither_dead_nor_rage():
    s = Story().page("/p")
    for k in range(3):
        s.at(300).click('a.jump "Reviews"', "a").at(40).ev(Kind.SCROLL, sy=400 * (k + 1))
    s.at(9000).ev(Kind.MOVE, x=1, y=1)
    assert not kinds(s.flags()) & {"rage_click", "dead_click"}


def test_slow_but_working_button_is_neither_dead_nor_slow():
    s = Story().page("/p").at(800).click(*BUTTON)
    s.at(20).ev(Kind.REQUEST, value=2200.0, status=200).at(2230).ev(
        Kind.MUTATION, "div.done", "div"
    )
    s.at(9000).ev(Kind.MOVE, x=1, y=1)
    assert not kinds(s.flags()) & {"dead_click", "slow_interaction"}
    later = Story().page("/p").at(800).click(*BUTTON).at(2700).ev(Kind.MUTATION, "div.done", "div")
    later.at(9000).ev(Kind.MOVE, x=1, y=1)
    assert "dead_click" not in kinds(later.flags())
    assert "dead_click" in kinds(later.flags("posthog"))  # PostHog waits 2.5 s


def test_dead_button_is_dead_and_a_modifier_click_is_not():
    s = Story().page("/p").at(800).click(*BUTTON).at(8000).ev(Kind.MOVE, x=1, y=1)
    fb = s.flags().of_kind(FlagKind.DEAD_CLICK)
    assert len(fb) == 1
    m = Story().page("/p").at(800).click(*BUTTON, flags=1).at(8000).ev(Kind.MOVE, x=1, y=1)
    assert "dead_click" not in kinds(m.flags())


def test_reaction_after_clicking_elsewhere_does_not_save_a_dead_click():
    s = Story().page("/p").at(800).click(*BUTTON).at(2500).click('a.other "Other"', "a").at(50)
    s.ev(Kind.MUTATION, "div.other", "div").at(9000).ev(Kind.MOVE, x=1, y=1)
    dead = s.flags().of_kind(FlagKind.DEAD_CLICK)
    assert len(dead) == 1  # the mutation answered the second click
    assert "dead_click" not in kinds(s.flags("sentry"))  # Sentry credits any mutation within 7 s


def test_user_moving_on_too_soon_gives_no_dead_verdict():
    s = (
        Story()
        .page("/p")
        .at(800)
        .click(*BUTTON)
        .at(300)
        .click('a.other "Other"', "a")
        .at(40)
        .page("/q")
    )
    assert "dead_click" not in kinds(s.flags())


def test_ignore_rules_from_config():
    s = Story().page("/p")
    for _ in range(4):
        s.at(200).click('button.gallery.uxtop-ignore "›"', "button")
    s2 = Story().page("/p")
    for _ in range(4):
        s2.at(200).click("div.slider.ph-no-rageclick", "div")
    assert not kinds(s.flags()) and "rage_click" not in kinds(s2.flags())


def test_error_click_needs_the_error_on_the_same_page_and_after_the_click():
    s = (
        Story()
        .page("/p")
        .at(800)
        .click(*BUTTON)
        .at(300)
        .ev(Kind.ERROR, msg=0)
        .at(100)
        .ev(Kind.MUTATION, "d", "div")
    )
    assert "error_click" in kinds(s.flags())
    nav = (
        Story()
        .page("/p")
        .at(800)
        .click('a.next "Go"', "a")
        .at(200)
        .page("/q")
        .at(100)
        .ev(Kind.ERROR)
    )
    assert "error_click" not in kinds(nav.flags())


def test_slow_interaction_from_request_latency():
    s = Story().page("/p").at(800).click(*BUTTON).at(10).ev(Kind.REQUEST, value=4500.0, status=200)
    s.at(4520).ev(Kind.MUTATION, "div.done", "div")
    fb = s.flags().of_kind(FlagKind.SLOW_INTERACTION)
    assert len(fb) == 1 and fb.rule_names[int(fb.rule[0])] == "slow_request_and_reaction"


def test_form_single_typo_fix_is_not_struggle_but_repeated_reentry_and_abandonment_are():
    def fill(s: Story, field: str) -> None:
        s.at(300).ev(Kind.FOCUS, field, "input[type=text]").at(500).ev(
            Kind.INPUT, field, "input[type=text]"
        )
        s.at(300).ev(Kind.BLUR, field, "input[type=text]")

    ok = Story().page("/checkout")
    for f in ("input#a", "input#b", "input#c", "input#a"):
        fill(ok, f)
    ok.at(500).ev(Kind.SUBMIT, "form", "form").at(400).page("/done")
    assert "form_struggle" not in kinds(ok.flags())
    bad = Story().page("/checkout")
    for f in ("input#a", "input#b", "input#a", "input#b", "input#a"):
        fill(bad, f)
    bad.at(500).ev(Kind.SUBMIT, "form", "form").at(400).page("/done")
    assert "form_struggle" in kinds(bad.flags())
    gone = Story().page("/checkout")
    for f in ("input#a", "input#b"):
        fill(gone, f)
    gone.at(3000).page("/")
    fb = gone.flags().of_kind(FlagKind.FORM_STRUGGLE)
    assert len(fb) == 1 and fb.rule_names[int(fb.rule[0])] == "form_abandon"


def test_u_turn_and_page_loop():
    s = Story().page("/a").at(5000).page("/b").at(3000).page("/a")
    assert "u_turn" in kinds(s.flags())
    slow = Story().page("/a").at(5000).page("/b").at(9000).page("/a")
    assert "u_turn" not in kinds(slow.flags())
    loop = Story().page("/a").at(4000).page("/a").at(4000).page("/a")
    assert kinds(loop.flags()) == {"page_loop"}


def test_profiles_change_rage_thresholds():
    s = Story().page("/p")
    for _ in range(3):
        s.at(400).click(*BUTTON).at(30).ev(Kind.MUTATION, "div.x", "div")
    assert "rage_click" in kinds(s.flags("uxtop"))
    assert "rage_click" not in kinds(s.flags("amplitude"))  # needs 4 within 1 s
    assert "rage_click" not in kinds(s.flags("sentry"))  # needs a dead click clicked 5 times
