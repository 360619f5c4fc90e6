"""Labelled synthetic shop traffic: the means to prove the detectors right and fast.

A deterministic (by seed) generator of web sessions in the canonical schema: home -> search ->
product -> cart -> checkout -> confirmation with detours; desktop/mobile/tablet, releases,
countries; mouse paths, scroll flicks, form focus/input/blur, page views, backend ``request``
events (route, latency, status; ``ts`` is when the request started), JS errors, feedback, and
``mutation`` events as the page's reactions to clicks.

Into it go **labelled friction episodes** of every ``FlagKind`` and **hard negatives** that
fool naive detectors (steppers and pagers clicked fast, triple-click text selection, fast double
clicks, download and new-tab links, clicks that scroll, fast expert users, slow but working
buttons, a single typo fix). An optional **incident** degrades one backend route (latency x N,
error rate up) for a time window; users who hit it wait, rage-click, see errors and leave.

Ground truth is what the generator made happen, written as labels beside the events:
``{"sid", "kind", "start_ts", "end_ts", "target", "url"}``; hard negatives carry ``"neg": true``
and a ``neg:<name>`` kind. Two kinds are defined by a threshold rather than by intent, and the
labels use the same definition: a click-triggered request of >= ``SLOW_REQUEST_MS`` is a slow
interaction, and a click-triggered 5xx (or JS error) is an error click.

Entry points: ``generate(cfg)`` (NDJSON chunks in global time order + labels),
``generate_columnar(cfg)`` (an ``EventBatch`` directly, for tests and benchmarks),
``iter_live(rate_eps, incident_at_s=60)`` (wall-clock paced NDJSON for the demo).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from uxtop.batch import (
    EVENT_COLUMNS,
    FLAG_MODIFIER,
    INT_NA,
    NONE_ID,
    SESSION_COLUMNS,
    STRING_TABLES,
    EventBatch,
)
from uxtop.schema import EVENT_TYPES, Kind
from uxtop.snapshot import FLAG_KINDS

#: ground-truth definitions shared with the default detector profile
SLOW_REQUEST_MS = 3000
DEAD_MS = 7000
UTURN_MS = 7000
ERROR_STATUS_MIN = 500

#: 2026-01-01T00:00:00Z
DEFAULT_START_TS = 1_767_225_600_000

# the labels name the detectors' flag kinds
FRICTION_KINDS = FLAG_KINDS
HARD_NEGATIVES = (
    "stepper",
    "pager",
    "triple_click",
    "double_click",
    "download",
    "new_tab",
    "click_scroll",
    "expert",
    "slow_button",
    "typo_fix",
)
#: which flag kinds a hard negative is a trap for (``uxtop eval`` reports these overlaps)
NEGATIVE_TRAPS: dict[str, tuple[str, ...]] = {
    "stepper": ("rage_click",),
    "pager": ("rage_click",),
    "triple_click": ("rage_click", "dead_click"),
    "double_click": ("rage_click",),
    "download": ("dead_click",),
    "new_tab": ("dead_click",),
    "click_scroll": ("rage_click", "dead_click"),
    "expert": FRICTION_KINDS,
    "slow_button": ("dead_click", "slow_interaction"),
    "typo_fix": ("form_struggle",),
}


class Incident(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``route`` degrades from ``start_s`` (seconds after the traffic starts) for ``duration_s``."""

    start_s: float = 60.0
    duration_s: float = 180.0
    route: str = "POST /api/cart"
    latency_factor: float = 8.0
    error_rate: float = 0.3


class SynthConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to generate.

    sessions: how many sessions (file mode); sessions_per_s: their arrival rate.
    friction_rate: share of sessions that get injected friction episodes (1-2 each).
    expert_rate: share of fast expert sessions (hard negative). negatives_rate: how often a
    normal visit to a page with a trap element uses it.
    """

    seed: int = 0
    sessions: int = 1000
    start_ts: int = DEFAULT_START_TS
    sessions_per_s: float = 2.0
    friction_rate: float = 0.35
    expert_rate: float = 0.1
    negatives_rate: float = 0.5
    incident: Incident | None = None


class Label(msgspec.Struct, frozen=True, array_like=False):
    sid: str
    kind: str
    start_ts: int
    end_ts: int
    target: str | None = None
    url: str | None = None
    neg: bool = False


# ------------------------------------------------------------------------------------- the shop

PRODUCTS = 400
CATEGORIES = ("shoes", "jackets", "bags", "hats", "socks", "watches")
DEVICES = (("desktop", 0.6), ("mobile", 0.35), ("tablet", 0.05))
RELEASES = (("2.3.0", 0.25), ("2.3.1", 0.45), ("2.4.0", 0.3))
COUNTRIES = (
    ("US", 0.35),
    ("DE", 0.15),
    ("GB", 0.12),
    ("FR", 0.1),
    ("IN", 0.1),
    ("BR", 0.08),
    ("JP", 0.1),
)
#: median latency (ms) per route; lognormal around it
ROUTES: dict[str, float] = {
    "GET /api/home": 90,
    "GET /api/search": 140,
    "GET /api/product/:id": 80,
    "GET /api/reviews": 110,
    "GET /api/recommendations": 160,
    "POST /api/cart": 180,
    "GET /api/cart": 70,
    "POST /api/coupon": 150,
    "POST /api/checkout": 380,
    "POST /api/wishlist": 90,
}
LOAD_ERRORS = ("ResizeObserver loop completed with undelivered notifications", "Script error.")


@dataclass(frozen=True)
class El:
    """A page element: the target string (selector + text), its tag, and where it sits."""

    target: str
    tag: str
    x: int
    y: int


E = El
HOME = {
    "search": E("input#search", "input[type=search]", 640, 90),
    "hero": E('a.hero-cta "Shop the sale"', "a", 640, 420),
    "category": E('a.category "Shoes"', "a", 300, 700),
    "account": E('a#account "Account"', "a", 1180, 40),
}
SEARCH = {
    "result": E('a.result "Product"', "a", 420, 300),
    "pager": E('a.pager-next "Next ›"', "a", 640, 1450),
    "filter": E("input.filter-instock", "input[type=checkbox]", 160, 260),
}
PRODUCT = {
    "add": E('button#add-to-cart "Add to cart"', "button", 980, 520),
    "plus": E('button.qty-plus "+"', "button", 1010, 460),
    "minus": E('button.qty-minus "−"', "button", 930, 460),
    "gallery": E("img.gallery-main", "img", 420, 420),
    "description": E("p.description", "p", 420, 900),
    "reviews": E('a.jump-reviews "Reviews (128)"', "a", 980, 400),
    "spec": E('a.spec-sheet[download] "Spec sheet (PDF)"', "a[download]", 980, 640),
    "size": E('a.size-guide[target=_blank] "Size guide"', "a[target=_blank]", 1080, 400),
    "wishlist": E('button.wishlist "♡ Save"', "button", 1100, 520),
    "notify": E('button.notify-me "Notify me"', "button", 980, 580),
    "back": E('a.back "‹ Back to results"', "a", 120, 140),
}
CART = {
    "checkout": E('button#checkout "Checkout"', "button", 1000, 620),
    "plus": E('button.qty-plus "+"', "button", 820, 300),
    "coupon": E("input#coupon", "input[type=text]", 860, 480),
    "apply": E('button#apply-coupon "Apply"', "button", 1000, 480),
    "promo": E('a.promo-banner "Free shipping over $50"', "a", 640, 160),
}
FIELDS = (
    E("input#email", "input[type=email]", 640, 260),
    E("input#name", "input[type=text]", 640, 330),
    E("input#address", "input[type=text]", 640, 400),
    E("input#city", "input[type=text]", 520, 470),
    E("input#zip", "input[type=text]", 780, 470),
    E("input#card", "input[type=text]", 640, 560),
)
PLACE_ORDER = E('button#place-order "Place order"', "input[type=submit]", 640, 680)
CONFIRM_HOME = E('a.continue "Continue shopping"', "a", 640, 500)


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    r = rng.random()
    for name, w in table:
        r -= w
        if r <= 0:
            return name
    return table[-1][0]


# ------------------------------------------------------------------------------ one session

# event tuple positions
# (absent numbers are stored as the batch sentinels, so columns convert without a Python pass)
(
    _TS,
    _KIND,
    _URL,
    _TARGET,
    _TAG,
    _X,
    _Y,
    _SY,
    _SH,
    _VH,
    _VALUE,
    _STATUS,
    _ROUTE,
    _MSG,
    _MOD,
    _SEQ,
) = range(16)
_NA = INT_NA
_NAN = float("nan")
_K_MOVE = int(Kind.MOVE)


class _Session:
    """Builds one session's events; ``t`` is the user's clock (ms), events may be scheduled
    ahead of it (reactions, request completions) and are sorted at the end."""

    def __init__(
        self,
        rng: random.Random,
        sid: str,
        start: int,
        incident: tuple[int, int, Incident] | None,
        labels: list[Label],
    ) -> None:
        self.rng = rng
        self._random = rng.random
        self.sid = sid
        self.t = start
        self.events: list[tuple[Any, ...]] = []
        self.labels = labels
        self.incident = incident
        self.dev = _weighted(rng, DEVICES)
        self.rel = _weighted(rng, RELEASES)
        self.geo = _weighted(rng, COUNTRIES)
        self.desktop = self.dev == "desktop"
        self.url = "/"
        self.sy = 0
        self.sh = 2000
        self.vh = 900 if self.desktop else 740
        self.mx = self.ri(200, 1000)
        self.my = self.ri(100, 600)
        self.first_pageview = True
        self.gone = False  # the user left (drop-off)
        self.pace = 1.0

    # -- primitives ------------------------------------------------------------------------

    def ev(
        self,
        kind: int,
        ts: int | None = None,
        target: El | None = None,
        x: int | None = None,
        y: int | None = None,
        sy: int | None = None,
        dur: float | None = None,
        status: int | None = None,
        route: str | None = None,
        msg: str | None = None,
        score: int | None = None,
        mod: bool = False,
        url: str | None = None,
    ) -> None:
        t = self.t if ts is None else ts
        value = float(dur) if dur is not None else float(score) if score is not None else _NAN
        has_sy = sy is not None
        self.events.append(
            (
                t,
                kind,
                self.url if url is None else url,
                target.target if target else None,
                target.tag if target else None,
                _NA if x is None else x,
                _NA if y is None else y,
                sy if has_sy else _NA,
                self.sh if has_sy else _NA,
                self.vh if has_sy else _NA,
                value,
                0 if status is None else status,
                route,
                msg,
                mod,
                len(self.events),
            )
        )

    def ri(self, a: int, b: int) -> int:
        """Uniform int in [a, b] (``random.randint`` is 3x slower; this is the hot path)."""
        return a + int(self._random() * (b - a + 1))

    def wait(self, ms: float) -> None:
        self.t += max(1, int(ms * self.pace))

    def label(
        self, kind: str, start: int, end: int, target: El | str | None = None, neg: bool = False
    ) -> None:
        tgt = target.target if isinstance(target, El) else target
        self.labels.append(
            Label(self.sid, ("neg:" + kind) if neg else kind, start, end, tgt, self.url, neg)
        )

    def move_to(self, x: int, y: int) -> None:
        """Cursor path to (x, y): rrweb-like samples every ~50 ms, smooth (no jitter reversals)."""
        if not self.desktop:
            self.mx, self.my = x, y
            return
        dist = math.hypot(x - self.mx, y - self.my)
        steps = max(2, min(25, int(dist / 40)))
        x0, y0 = self.mx, self.my
        # the hottest loop of the generator: event tuples built inline (same layout as ev())
        append = self.events.append
        rnd = self._random
        url = self.url
        seq = len(self.events)
        t = self.t
        dx, dy = x - x0, y - y0
        for i in range(1, steps + 1):
            f = i / steps
            f = f * f * (3 - 2 * f)  # ease in/out: monotone, so no direction reversals
            t += 35 + int(rnd() * 26)
            append(
                (
                    t,
                    _K_MOVE,
                    url,
                    None,
                    None,
                    int(x0 + dx * f),
                    int(y0 + dy * f),
                    _NA,
                    _NA,
                    _NA,
                    _NAN,
                    0,
                    None,
                    None,
                    False,
                    seq,
                )
            )
            seq += 1
        self.t = t
        self.mx, self.my = x, y

    def hover(self, ms: float) -> None:
        """Idle time with a few slow cursor drifts (desktop) — reading, thinking."""
        end = self.t + int(ms * self.pace)
        while self.t < end - 400:
            if self.desktop and self.rng.random() < 0.6:
                self.move_to(self.ri(100, 1200), self.ri(80, 800))
            self.t += self.ri(300, 1500)
        self.t = max(self.t, end)

    def flick(self, dy: int) -> None:
        """One scroll gesture: 3-6 scroll events ~100 ms apart, all in one direction."""
        n = self.ri(3, 6)
        target = min(max(0, self.sy + dy), max(0, self.sh - self.vh))
        start = self.sy
        for i in range(1, n + 1):
            self.t += self.ri(80, 120)
            self.sy = start + (target - start) * i // n
            self.ev(Kind.SCROLL, sy=self.sy)

    def read(self, ms: float, allow_up: bool = True) -> None:
        """Read a page: flicks downward, at most one flick back up, hovering in between."""
        end = self.t + int(ms * self.pace)
        went_up = not allow_up
        while self.t < end:
            if self.rng.random() < 0.55 and self.sy < self.sh - self.vh:
                self.flick(self.ri(250, 700))
            elif not went_up and self.sy > 600 and self.rng.random() < 0.25:
                self.flick(-self.ri(200, 500))
                went_up = True
            self.hover(self.ri(700, 2500))

    def scroll_into_view(self, el: El) -> tuple[int, int]:
        """Scroll so the element is visible; returns its page coordinates."""
        if not (self.sy <= el.y <= self.sy + self.vh - 60):
            # looking for it first: a pause long enough that this scroll is not part of a bounce
            self.hover(self.ri(3100, 4500) / self.pace)
            self.flick(el.y - self.sy - self.vh // 2)
            self.hover(self.ri(200, 600))
        return el.x + self.ri(-6, 6), el.y + self.ri(-4, 4)

    def click(self, el: El, mod: bool = False, at: tuple[int, int] | None = None) -> int:
        x, y = at if at is not None else self.scroll_into_view(el)
        self.move_to(x, y)
        self.t += self.ri(60, 250)
        self.ev(Kind.CLICK, target=el, x=x, y=y, mod=mod)
        return self.t

    def react(self, at: int, what: str = "ui") -> None:
        self.ev(Kind.MUTATION, ts=at, target=El(f"div.{what}", "div", 0, 0))

    def request(
        self,
        route: str,
        at: int,
        slow: float | None = None,
        fail: bool = False,
        click: tuple[El, int] | None = None,
    ) -> tuple[int, int]:
        """A backend call starting at ``at``; returns (latency ms, status). Incident applies.
        ``click``: the (element, ts) that triggered it; slow and failed calls are labelled."""
        med = ROUTES[route]
        dur = med * math.exp(self.rng.gauss(0.0, 0.45))
        status = 200 if not route.startswith("POST") else 201
        if self.rng.random() < 0.002:
            status = 503
        if (
            self.incident is not None
            and route == self.incident[2].route
            and self.incident[0] <= at < self.incident[1]
        ):
            dur *= self.incident[2].latency_factor
            if self.rng.random() < self.incident[2].error_rate:
                status = 503
        if slow is not None:
            dur = slow
        if fail:
            status = 500
        dur = min(int(dur), 30_000)
        self.ev(Kind.REQUEST, ts=at, route=route, dur=float(dur), status=status)
        if click is not None:
            el, c = click
            if dur >= SLOW_REQUEST_MS:
                self.label("slow_interaction", c, at + dur + 50, el)
            if status >= ERROR_STATUS_MIN:
                self.label("error_click", c, c, el)
        return dur, status

    def navigate(self, url: str, at: int | None = None, sh: int | None = None) -> int:
        """Page view ~120-450 ms after ``at`` (default now), its load requests, first paint.
        Returns the page view's ts."""
        self.t = (at if at is not None else self.t) + self.ri(120, 450)
        pv = self.t
        self.url = url
        self.sy = 0
        self.sh = sh if sh is not None else self.ri(1600, 5200)
        self.ev(Kind.PAGEVIEW)
        route = {"/": "GET /api/home", "/search": "GET /api/search", "/cart": "GET /api/cart"}.get(
            url
        )
        if url.startswith("/product/"):
            route = "GET /api/product/:id"
        if route is not None:
            start = self.t + self.ri(10, 60)
            dur, _ = self.request(route, start)
            self.react(start + dur + self.ri(5, 40), "content")
        if self.rng.random() < 0.03:
            self.ev(Kind.ERROR, ts=self.t + self.ri(30, 300), msg=self.rng.choice(LOAD_ERRORS))
        self.t += self.ri(450, 900)  # first paint before anyone clicks
        return pv

    def typing(self, el: El, chars: int, hesitate_ms: int = 0) -> None:
        """Focus a field, type (an ``input`` per burst of keystrokes), blur."""
        self.click(el)
        self.ev(Kind.FOCUS, target=el)
        self.t += hesitate_ms if hesitate_ms else self.ri(200, 2500)
        for _ in range(max(1, chars // 3)):
            self.t += self.ri(150, 600)
            self.ev(Kind.INPUT, target=el)
        self.t += self.ri(100, 500)
        self.ev(Kind.BLUR, target=el)

    # -- episodes --------------------------------------------------------------------------

    def rage_on(
        self, el: El, clicks: int, react_after: int | None, request: str | None = None
    ) -> int:
        """A burst of clicks on ``el``; the page reacts ``react_after`` ms after the first one
        (None: never). Returns the first click's ts."""
        first = self.click(el)
        if request is not None:
            self.request(
                request,
                first + 15,
                slow=(react_after - 40) if react_after else None,
                click=(el, first),
            )
        x, y = self.mx, self.my
        for _ in range(clicks - 1):
            self.t += self.ri(120, 600)
            self.ev(Kind.CLICK, target=el, x=x + self.ri(-4, 4), y=y + self.ri(-4, 4))
        if react_after is not None:
            self.react(first + react_after)
        self.label("rage_click", first, self.t, el)
        return first

    def dead_click(self, el: El) -> None:
        first = self.click(el)
        last = first
        self.hover(self.ri(1500, 3500)) if self.desktop else self.wait(self.ri(1500, 3500))
        if self.rng.random() < 0.5:
            last = self.click(el, at=(self.mx + self.ri(-3, 3), self.my + self.ri(-3, 3)))
            self.wait(self.ri(1500, 3000))
        self.label("dead_click", first, last, el)

    def dead_rage(self, el: El) -> None:
        first = self.click(el)
        for _ in range(self.ri(3, 6)):
            self.t += self.ri(150, 500)
            self.ev(Kind.CLICK, target=el, x=self.mx + self.ri(-4, 4), y=self.my + self.ri(-4, 4))
        self.label("rage_click", first, self.t, el)
        self.label("dead_click", first, self.t, el)
        self.wait(self.ri(1500, 3000))

    def js_error_click(self, el: El) -> None:
        c = self.click(el)
        self.ev(
            Kind.ERROR,
            ts=c + self.ri(5, 300),
            msg="TypeError: Cannot read properties of undefined (reading 'id')",
        )
        self.react(c + self.ri(350, 700), "toast-error")
        self.label("error_click", c, c, el)
        self.hover(self.ri(1200, 3000))

    def thrash(self) -> None:
        if not self.desktop:
            return
        start = self.t
        dur = self.ri(2500, 4200)
        amp = self.ri(40, 180)
        axis_y = self.rng.random() < 0.3
        sign = 1
        while self.t < start + dur:
            self.t += self.ri(25, 50)
            sign = -sign
            dx = sign * self.ri(amp // 2, amp)
            if axis_y:
                self.my = max(0, self.my + dx)
            else:
                self.mx = max(0, self.mx + dx)
            self.ev(Kind.MOVE, x=self.mx, y=self.my)
        self.label("thrashed_cursor", start, self.t)
        self.hover(self.ri(1000, 2500))

    def scroll_bounce(self) -> None:
        self.sh = max(self.sh, 4000)
        if self.sy < 600:
            self.flick(900)
        start = self.t + 80
        down = False
        for _ in range(self.ri(5, 9)):
            leg = self.ri(300, 1400)
            self.flick(leg if down else -leg)
            if self.sy <= 0 or self.sy >= self.sh - self.vh:
                self.sy = self.sh // 2
            down = not down
            self.t += self.ri(200, 900)
        self.label("excessive_scroll", start, self.t)
        self.hover(self.ri(3200, 5000))  # pause, so the bounce chain ends here

    def slow_interaction(self, el: El, route: str) -> None:
        c = self.click(el)
        start = c + self.ri(5, 30)
        dur, status = self.request(route, start, slow=self.ri(3600, 6500), click=(el, c))
        self.react(start + dur + 30)
        self.t = max(self.t, start + dur + 100)
        self.hover(self.ri(800, 2000))

    # -- the normal click with its consequences -------------------------------------------

    def button_call(self, el: El, route: str, retry: bool = True) -> bool:
        """Click a button that calls ``route`` and updates the page. Handles incident fallout:
        slow responses (label + maybe rage), failures (error toast, label, maybe retry).
        Returns False if the user gives up."""
        c = self.click(el)
        start = c + self.ri(5, 30)
        dur, status = self.request(route, start, click=(el, c))
        done = start + dur
        reaction = done + self.ri(10, 50)
        self.react(reaction, "toast-error" if status >= ERROR_STATUS_MIN else "cart-badge")
        if dur < SLOW_REQUEST_MS <= reaction - c:
            self.label("slow_interaction", c, reaction, el)  # the page showed it late all the same
        if reaction - c > DEAD_MS:
            self.label(
                "dead_click", c, c, el
            )  # nothing visible for longer than a dead click's wait
        if dur >= 1600 and self.rng.random() < 0.5:
            # impatient: a burst on the same button while waiting (the UI ignores it)
            self.t = c + self.ri(400, 900)
            for _ in range(self.ri(3, 5)):
                self.ev(
                    Kind.CLICK, target=el, x=self.mx + self.ri(-4, 4), y=self.my + self.ri(-4, 4)
                )
                self.t += self.ri(120, 500)
            self.label("rage_click", c, self.t, el)
        self.t = max(self.t, done + self.ri(300, 1200))
        if status >= ERROR_STATUS_MIN:
            if retry and self.rng.random() < 0.5:
                self.hover(self.ri(1200, 3000))
                return self.button_call(el, route, retry=False)
            return self.rng.random() < 0.4
        if dur >= SLOW_REQUEST_MS and self.rng.random() < 0.3:
            return False
        return True


# ----------------------------------------------------------------------------- session flows


def _session(s: _Session, persona: str, episodes: list[str], neg_rate: float) -> None:
    rng = s.rng
    if persona == "expert":
        s.pace = 0.35
    ep = list(episodes)

    def take(name: str) -> bool:
        if name in ep:
            ep.remove(name)
            return True
        return False

    def neg(p: float = 1.0) -> bool:
        return persona == "normal" and rng.random() < neg_rate * p

    expert_start = s.t
    entry = rng.random()
    if entry < 0.6:
        s.navigate("/")
    elif entry < 0.85:
        s.navigate(f"/product/{rng.randrange(PRODUCTS)}")
    else:
        s.navigate("/search")
    if take("thrash"):
        s.thrash()
    if s.url == "/":
        if take("page_loop"):
            _page_loop(s)
        s.read(s.ri(1500, 6000))
        if rng.random() < 0.12 and persona == "normal":
            return  # bounced
        if rng.random() < 0.75:
            el = HOME["search"]
            s.typing(el, s.ri(4, 14))
            s.ev(Kind.SUBMIT, target=el)
            s.navigate("/search")
        else:
            s.click(HOME["category"])
            s.navigate("/search")
    if s.url == "/search":
        s.read(s.ri(1500, 5000))
        if neg(0.5):
            _fast_clicks(s, SEARCH["pager"], "pager")
        if take("excessive_scroll"):
            s.scroll_bounce()
        s.click(SEARCH["result"])
        b_ts = s.navigate(f"/product/{rng.randrange(PRODUCTS)}")
        if take("u_turn"):
            s.hover(s.ri(500, 2500))
            s.click(PRODUCT["back"])
            back = s.navigate("/search")
            if back - b_ts <= UTURN_MS:  # a quick back by definition (Hotjar: 7 s)
                s.label("u_turn", b_ts, back, None)
            s.read(s.ri(1500, 3000))
            s.click(SEARCH["result"])
            s.navigate(f"/product/{rng.randrange(PRODUCTS)}")
    if not s.url.startswith("/product/"):
        return
    _product(s, persona, take, neg)
    if s.gone:
        return
    if s.url == "/cart":
        _cart(s, persona, take, neg)
    if s.gone:
        return
    if s.url == "/checkout":
        _checkout(s, persona, take, neg)
    if persona == "expert":
        s.label("expert", expert_start, s.t, None, neg=True)
    # anything not placed by the flow (the user left early) is placed on the last page
    for name in ep:
        _leftover(s, name)


def _page_loop(s: _Session) -> None:
    rng = s.rng
    a = s.url
    first = s.navigate(a)  # the loop starts with a reload
    if rng.random() < 0.5:
        for _ in range(s.ri(2, 4)):  # refresh loop: the page "does not load right"
            s.t += s.ri(1200, 3000)
            s.navigate(a)
    else:
        b = f"/product/{rng.randrange(PRODUCTS)}"
        for _ in range(2):  # ping-pong A B A B A: every return is also a quick back
            s.t += s.ri(600, 1800)
            s.navigate(b)
            s.t += s.ri(600, 1800)
            s.navigate(a)
        s.label("u_turn", first, s.t, None)
    s.label("page_loop", first, s.t, None)
    s.read(s.ri(4000, 8000), allow_up=False)
    s.t += 16_000  # after the loop, stay away long enough that the loop chain ends


def _fast_clicks(s: _Session, el: El, name: str) -> None:
    """A stepper/pager used fast: every click works (mutation)."""
    first = s.click(el)
    s.react(first + s.ri(20, 120))
    for _ in range(s.ri(2, 5)):
        s.t += s.ri(120, 450)
        s.ev(Kind.CLICK, target=el, x=s.mx + s.ri(-3, 3), y=s.my + s.ri(-3, 3))
        s.react(s.t + s.ri(20, 120))
    s.label(name, first, s.t, el, neg=True)
    s.hover(s.ri(1200, 2500))


def _product(
    s: _Session, persona: str, take: Callable[[str], bool], neg: Callable[..., bool]
) -> None:
    rng = s.rng
    s.read(s.ri(2000, 7000))
    if take("dead_click"):
        s.dead_click(PRODUCT["notify"])
    if take("dead_rage"):
        s.dead_rage(PRODUCT["notify"])
    if take("error_click"):
        s.js_error_click(PRODUCT["wishlist"])
    if take("excessive_scroll"):
        s.scroll_bounce()
    if neg(0.5):
        el = PRODUCT["description"]
        c = s.click(el)
        s.t += s.ri(80, 160)
        s.ev(Kind.CLICK, target=el, x=s.mx, y=s.my)
        s.ev(Kind.DBLCLICK, ts=s.t + 1, target=el, x=s.mx, y=s.my)
        s.t += s.ri(80, 160)
        s.ev(Kind.CLICK, target=el, x=s.mx, y=s.my)
        s.ev(Kind.SELECTION, ts=s.t + 2, target=el)
        s.label("triple_click", c, s.t, el, neg=True)
        s.hover(s.ri(1500, 3000))
    if neg(0.5):
        el = PRODUCT["gallery"]
        c = s.click(el)
        for zoom in range(2 if rng.random() < 0.6 else 1):
            if zoom:
                s.t += s.ri(450, 900)
                s.ev(Kind.CLICK, target=el, x=s.mx, y=s.my)
            s.t += s.ri(90, 200)
            s.ev(Kind.CLICK, target=el, x=s.mx, y=s.my)
            s.ev(Kind.DBLCLICK, ts=s.t + 1, target=el, x=s.mx, y=s.my)
            s.react(s.t + s.ri(20, 80), "zoom")
        s.label("double_click", c, s.t, el, neg=True)
        s.hover(s.ri(1500, 3000))
    if neg(0.5):
        el = PRODUCT["reviews"]
        c = s.click(el)
        s.sh = max(s.sh, 5000)
        for k in range(s.ri(1, 3)):
            if k:
                s.t += s.ri(150, 400)
                s.ev(Kind.CLICK, target=el, x=s.mx, y=s.my)
            base = s.t
            s.t += s.ri(10, 60)
            s.flick(600)
            s.t = max(s.t, base)
        s.label("click_scroll", c, s.t, el, neg=True)
        s.read(s.ri(2000, 4000), allow_up=False)
    if neg(0.3):
        el = PRODUCT["spec"]
        c = s.click(el)
        last = c
        s.hover(s.ri(1500, 2500))
        if rng.random() < 0.3:
            last = s.click(el)
            s.hover(s.ri(1500, 2500))
        s.label("download", c, last, el, neg=True)
    if neg(0.3):
        el = PRODUCT["size"]
        c = s.click(el)
        s.ev(Kind.VISIBILITY, ts=c + s.ri(40, 200), msg="hidden")
        s.t = c + s.ri(4000, 15000)
        s.ev(Kind.VISIBILITY, msg="visible")
        s.label("new_tab", c, c, el, neg=True)
        s.hover(s.ri(800, 2000))
    if neg(0.5):
        _fast_clicks(s, PRODUCT["plus"], "stepper")
    if take("slow_interaction"):
        s.slow_interaction(PRODUCT["add"], "POST /api/cart")
        added = True
    elif take("rage_click"):
        c = s.rage_on(PRODUCT["add"], s.ri(3, 7), s.ri(1200, 2600), "POST /api/cart")
        s.t = max(s.t, c + 2700)
        added = True
    else:
        if persona == "normal" and rng.random() < 0.25:
            s.gone = True  # just browsing
            return
        added = s.button_call(PRODUCT["add"], "POST /api/cart")
    if not added:
        s.gone = True
        return
    s.hover(s.ri(800, 3000))
    s.click(E('a#cart-link "Cart (1)"', "a", 1180, 40))
    s.navigate("/cart")


def _cart(s: _Session, persona: str, take: Callable[[str], bool], neg: Callable[..., bool]) -> None:
    rng = s.rng
    s.read(s.ri(1500, 4000), allow_up=False)
    if neg(0.3):
        _fast_clicks(s, CART["plus"], "stepper")
    if take("dead_click"):
        s.dead_click(CART["promo"])
    if take("slow_interaction"):
        s.typing(CART["coupon"], s.ri(5, 10))
        s.slow_interaction(CART["apply"], "POST /api/coupon")
    elif neg(0.5):
        s.typing(CART["coupon"], s.ri(5, 10))
        c = s.click(CART["apply"])
        dur, _ = s.request(
            "POST /api/coupon", c + 20, slow=s.ri(1000, 2300), click=(CART["apply"], c)
        )
        s.react(c + 20 + dur + 30)
        s.t = max(s.t, c + dur + 300)
        s.label("slow_button", c, c + dur + 50, CART["apply"], neg=True)
    if persona == "normal" and rng.random() < 0.2:
        s.gone = True
        return
    s.click(CART["checkout"])
    s.navigate("/checkout")


def _checkout(
    s: _Session, persona: str, take: Callable[[str], bool], neg: Callable[..., bool]
) -> None:
    rng = s.rng
    s.hover(s.ri(800, 2000))
    fields = list(FIELDS)
    first_ts = s.t
    if take("form_struggle"):
        variant = rng.randrange(3)
        if variant == 0:  # validation failure, fields re-entered
            for el in fields:
                s.typing(el, s.ri(4, 16))
            c = s.click(PLACE_ORDER)
            s.ev(Kind.SUBMIT, target=PLACE_ORDER)
            s.react(c + s.ri(30, 100), "field-errors")
            s.hover(s.ri(800, 2000))
            for el in rng.sample(fields, s.ri(2, 4)):
                s.typing(el, s.ri(3, 9))
            s.label("form_struggle", first_ts, s.t, None)
        elif variant == 1:  # long hesitation at the card field
            for el in fields[:-1]:
                s.typing(el, s.ri(4, 16))
            s.typing(fields[-1], 16, hesitate_ms=s.ri(12_000, 30_000))
            s.label("form_struggle", first_ts, s.t, None)
        else:  # abandonment after filling some fields
            for el in fields[: s.ri(2, 4)]:
                s.typing(el, s.ri(4, 16))
            s.label("form_struggle", first_ts, s.t, None)
            s.hover(s.ri(1000, 3000))
            s.click(E('a.logo "Shop"', "a", 80, 40))
            s.navigate("/")
            s.read(s.ri(1500, 4000))
            return
    else:
        typo = neg(0.4)
        for el in fields:
            s.typing(el, s.ri(4, 16), hesitate_ms=s.ri(150, 600) if persona == "expert" else 0)
        if typo:
            el = rng.choice(fields)
            t0 = s.t
            s.typing(el, 3)
            s.label("typo_fix", t0, s.t, el, neg=True)
    c = s.click(PLACE_ORDER)
    s.ev(Kind.SUBMIT, target=PLACE_ORDER)
    dur, status = s.request("POST /api/checkout", c + s.ri(5, 30), click=(PLACE_ORDER, c))
    if status >= ERROR_STATUS_MIN:
        s.react(c + dur + 30, "toast-error")
        s.t = max(s.t, c + dur + 600)
        return
    s.navigate("/checkout/confirm", at=c + dur)
    if rng.random() < 0.2:
        s.ev(Kind.FEEDBACK, score=s.ri(4, 5), msg="smooth")
    s.hover(s.ri(1500, 5000))


def _leftover(s: _Session, name: str) -> None:
    """Episodes the flow had no place for (the user left before that page)."""
    if name == "thrash":
        s.thrash()
    elif name == "excessive_scroll":
        s.scroll_bounce()
    elif name == "error_click" and s.url.startswith("/product/"):
        s.js_error_click(PRODUCT["wishlist"])
    elif name == "form_struggle":
        return
    elif name == "page_loop":
        s.hover(16_000)
        _page_loop(s)


EPISODES = (
    "rage_click",
    "dead_click",
    "dead_rage",
    "error_click",
    "thrash",
    "u_turn",
    "page_loop",
    "excessive_scroll",
    "form_struggle",
    "slow_interaction",
)


def _make_session(
    seed: int,
    index: int,
    start: int,
    cfg: SynthConfig,
    incident: tuple[int, int, Incident] | None,
    labels: list[Label],
) -> _Session:
    rng = random.Random((seed * 1_000_003) ^ (index * 7_919) ^ 0x5EED)
    sid = f"s{seed}-{index}"
    s = _Session(rng, sid, start, incident, labels)
    r = rng.random()
    persona = (
        "expert"
        if r < cfg.expert_rate
        else "frustrated"
        if r < cfg.expert_rate + cfg.friction_rate
        else "normal"
    )
    episodes: list[str] = []
    if persona == "frustrated":
        episodes = rng.sample(EPISODES, rng.choice((1, 1, 2)))
        if "thrash" in episodes and not s.desktop:
            episodes.remove("thrash")
            episodes.append("rage_click")
        # several episodes on one product page: keep the rage/dead pairs apart
        if "dead_rage" in episodes and "dead_click" in episodes:
            episodes.remove("dead_click")
    _session(s, persona, episodes, cfg.negatives_rate)
    if persona == "frustrated" and rng.random() < 0.3:
        s.t += s.ri(500, 3000)
        s.ev(Kind.FEEDBACK, score=s.ri(1, 2), msg="this site is broken")
    s.events.sort()
    return s


# -------------------------------------------------------------------------------- encoding

_TYPE_NAMES = [t.value for t in EVENT_TYPES]


def _encode_session(s: _Session) -> list[bytes]:
    sid = s.sid
    head = f',"sid":"{sid}","type":"'
    cohort = f',"dev":"{s.dev}","rel":"{s.rel}","geo":"{s.geo}"'
    out = []
    first = True
    for e in s.events:
        kind = e[_KIND]
        if kind == Kind.MOVE:
            out.append(
                f'{{"ts":{e[_TS]}{head}move","url":"{e[_URL]}","x":{e[_X]},"y":{e[_Y]}}}'.encode()
            )
            continue
        if kind == Kind.SCROLL:
            out.append(
                f'{{"ts":{e[_TS]}{head}scroll","url":"{e[_URL]}","sy":{e[_SY]},"sh":{e[_SH]},"vh":{e[_VH]}}}'.encode()
            )
            continue
        parts = [f'{{"ts":{e[_TS]}{head}{_TYPE_NAMES[kind]}","url":"{e[_URL]}"']
        if e[_TARGET] is not None:
            parts.append(f',"target":{_json_str(e[_TARGET])},"tag":"{e[_TAG]}"')
        if e[_X] != _NA:
            parts.append(f',"x":{e[_X]},"y":{e[_Y]}')
        if e[_ROUTE] is not None:
            parts.append(f',"route":"{e[_ROUTE]}","dur":{int(e[_VALUE])},"status":{e[_STATUS]}')
        if e[_MSG] is not None:
            parts.append(f',"msg":{_json_str(e[_MSG])}')
        if kind == Kind.FEEDBACK and e[_VALUE] == e[_VALUE]:
            parts.append(f',"score":{int(e[_VALUE])}')
        if e[_MOD]:
            parts.append(',"props":{"metaKey":true}')
        if first:
            parts.append(cohort)
            first = False
        parts.append("}")
        out.append("".join(parts).encode())
    return out


_json_enc = msgspec.json.Encoder()


def _json_str(s: str) -> str:
    return _json_enc.encode(s).decode()


# --------------------------------------------------------------------------------- drivers


def _incident_window(cfg: SynthConfig) -> tuple[int, int, Incident] | None:
    if cfg.incident is None:
        return None
    a = cfg.start_ts + int(cfg.incident.start_s * 1000)
    return a, a + int(cfg.incident.duration_s * 1000), cfg.incident


def _session_starts(cfg: SynthConfig) -> Iterator[int]:
    rng = random.Random(cfg.seed ^ 0xA11CE)
    t = float(cfg.start_ts)
    for _ in range(cfg.sessions):
        yield int(t)
        t += rng.expovariate(cfg.sessions_per_s) * 1000.0


@dataclass
class SynthRun:
    """``chunks()`` yields NDJSON bytes in global time order; ``labels`` fills as it goes."""

    cfg: SynthConfig
    labels: list[Label] = field(default_factory=list)
    events: int = 0

    def chunks(self, block_sessions: int = 256, workers: int | None = None) -> Iterator[bytes]:
        """``workers``: processes generating blocks of sessions in parallel (default: one per
        CPU, up to 8, for 2000+ sessions). Output is identical for any worker count."""
        cfg = self.cfg
        starts = list(_session_starts(cfg))
        if workers is None:
            workers = min(8, os.cpu_count() or 1) if len(starts) >= 2000 else 1
        bounds = [
            (b0, min(b0 + block_sessions, len(starts)))
            for b0 in range(0, len(starts), block_sessions)
        ]
        jobs = ((cfg, starts[a:b], a) for a, b in bounds)
        if workers > 1:
            import concurrent.futures as cf

            pool = cf.ProcessPoolExecutor(max_workers=workers)
            results: Iterator[tuple[np.ndarray, bytes, list[Label]]] = pool.map(
                _block_star, jobs, chunksize=1
            )
        else:
            pool = None
            results = map(_block_star, jobs)
        pend_ts = np.empty(0, np.int64)
        pend_lines: list[bytes] = []
        try:
            for (_, b), (ts, blob, labels) in zip(bounds, results, strict=False):
                self.labels.extend(labels)
                pend_ts = np.concatenate([pend_ts, ts])
                pend_lines.extend(blob.split(b"\n"))
                # later blocks start at or after this cutoff: everything earlier can go out
                cutoff = starts[b] if b < len(starts) else None
                order = np.argsort(pend_ts, kind="stable")
                n_ready = (
                    int(np.searchsorted(pend_ts[order], cutoff))
                    if cutoff is not None
                    else order.shape[0]
                )
                if n_ready:
                    self.events += n_ready
                    yield b"\n".join([pend_lines[j] for j in order[:n_ready].tolist()]) + b"\n"
                rest = order[n_ready:]
                pend_lines = [pend_lines[j] for j in rest.tolist()]
                pend_ts = pend_ts[rest]
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


def _block(
    cfg: SynthConfig, starts: list[int], first_index: int
) -> tuple[np.ndarray, bytes, list[Label]]:
    """Sessions ``first_index ..`` of a run: their event times, NDJSON lines and labels."""
    incident = _incident_window(cfg)
    labels: list[Label] = []
    ts: list[int] = []
    lines: list[bytes] = []
    for k, start in enumerate(starts):
        sess = _make_session(cfg.seed, first_index + k, start, cfg, incident, labels)
        ts.extend(e[_TS] for e in sess.events)
        lines.extend(_encode_session(sess))
    return np.asarray(ts, dtype=np.int64), b"\n".join(lines), labels


def _block_star(args: tuple[SynthConfig, list[int], int]) -> tuple[np.ndarray, bytes, list[Label]]:
    return _block(*args)


def generate(cfg: SynthConfig) -> SynthRun:
    """NDJSON in global time order (``run.chunks()``) plus ``run.labels`` (complete once the
    chunks are exhausted). Deterministic for a given config."""
    return SynthRun(cfg)


def labels_to_ndjson(labels: list[Label]) -> bytes:
    enc = msgspec.json.Encoder()
    return b"".join(enc.encode(lb) + b"\n" for lb in labels)


def read_labels(data: bytes) -> list[Label]:
    dec = msgspec.json.Decoder(Label)
    return [dec.decode(line) for line in data.splitlines() if line.strip()]


@dataclass
class SynthData:
    """Generated traffic as one closed ``EventBatch`` (sessions in start order), its intern
    tables, the session keys and the labels. ``row`` is the event's index in generation order."""

    batch: EventBatch
    tables: dict[str, list[str]]
    labels: list[Label]

    @property
    def keys(self) -> dict[int, str]:
        return dict(zip(self.batch.sessions["session_id"].tolist(), self.batch.keys, strict=False))


def generate_columnar(cfg: SynthConfig) -> SynthData:
    """The same sessions as ``generate(cfg)``, straight to columns (no JSON, no parsing)."""
    incident = _incident_window(cfg)
    labels: list[Label] = []
    tables: dict[str, list[str]] = {t: [] for t in STRING_TABLES}
    index: dict[str, dict[str, int]] = {t: {} for t in STRING_TABLES}

    def interner(table: str) -> Callable[[str | None], int]:
        ids = index[table]
        lst = tables[table]

        def intern(v: str | None) -> int:
            if v is None:
                return NONE_ID
            i = ids.get(v)
            if i is None:
                i = ids[v] = len(lst)
                lst.append(v)
            return i

        return intern

    i_url, i_target, i_tag, i_route, i_msg = (
        interner(t) for t in ("url", "target", "tag", "route", "msg")
    )
    i_dev, i_rel, i_geo = interner("dev"), interner("rel"), interner("geo")
    rows: list[tuple[Any, ...]] = []
    sess_rows: list[tuple[int, int, int, int, int, int, int, int, int]] = []
    keys: list[str] = []
    offsets = [0]
    for i, start in enumerate(_session_starts(cfg)):
        s = _make_session(cfg.seed, i, start, cfg, incident, labels)
        base = len(rows)
        rows.extend(s.events)
        offsets.append(len(rows))
        evs = s.events
        urls = [e[_URL] for e in evs]
        sess_rows.append(
            (
                i,
                evs[0][_TS],
                evs[-1][_TS],
                len(evs),
                i_url(urls[0]),
                i_url(urls[-1]),
                i_dev(s.dev),
                i_rel(s.rel),
                i_geo(s.geo),
            )
        )
        keys.append(s.sid)
        del base
    n = len(rows)
    by_col = list(zip(*rows, strict=False)) if rows else [()] * (_SEQ + 1)

    def strings(pos: int, table: str) -> np.ndarray:
        ids = index[table]
        for v in set(by_col[pos]):
            if v is not None and v not in ids:
                ids[v] = len(tables[table])
                tables[table].append(v)
        lookup: dict[str | None, int] = {None: NONE_ID}
        lookup.update(ids)
        return np.fromiter(map(lookup.__getitem__, by_col[pos]), dtype=np.int32, count=n)

    cols = {
        "ts": np.array(by_col[_TS], dtype=np.int64),
        "session": np.repeat(
            np.arange(len(keys), dtype=np.int32),
            np.diff(np.asarray(offsets, dtype=np.int64)).astype(np.int64),
        ),
        "kind": np.array(by_col[_KIND], dtype=np.uint8),
        "url": strings(_URL, "url"),
        "target": strings(_TARGET, "target"),
        "tag": strings(_TAG, "tag"),
        "route": strings(_ROUTE, "route"),
        "msg": strings(_MSG, "msg"),
        "tab": np.full(n, NONE_ID, np.int32),
        "x": np.array(by_col[_X], dtype=np.int32),
        "y": np.array(by_col[_Y], dtype=np.int32),
        "sy": np.array(by_col[_SY], dtype=np.int32),
        "sh": np.array(by_col[_SH], dtype=np.int32),
        "vh": np.array(by_col[_VH], dtype=np.int32),
        "value": np.array(by_col[_VALUE], dtype=np.float32),
        "status": np.array(by_col[_STATUS], dtype=np.int16),
        "flags": np.array(by_col[_MOD], dtype=np.uint8) * np.uint8(FLAG_MODIFIER),
        "row": np.arange(n, dtype=np.int64),
    }
    sess_arr = np.array(sess_rows, dtype=np.int64).reshape(-1, 9)
    sessions = {
        "session_id": sess_arr[:, 0].astype(np.uint64),
        "start_ts": sess_arr[:, 1],
        "end_ts": sess_arr[:, 2],
        "n_events": sess_arr[:, 3],
        "first_url": sess_arr[:, 4].astype(np.int32),
        "last_url": sess_arr[:, 5].astype(np.int32),
        "dev": sess_arr[:, 6].astype(np.int32),
        "rel": sess_arr[:, 7].astype(np.int32),
        "geo": sess_arr[:, 8].astype(np.int32),
        "uid": np.full(len(sess_rows), -1, dtype=np.int32),
        "closed": np.ones(len(sess_rows), dtype=np.bool_),
    }
    assert set(cols) == set(EVENT_COLUMNS) and set(sessions) == set(SESSION_COLUMNS)
    # the ingestor assigns session ids in start order, sessions sorted by (start_ts, key)
    batch = EventBatch(
        columns={k: np.ascontiguousarray(v, dtype=EVENT_COLUMNS[k]) for k, v in cols.items()},
        offsets=np.asarray(offsets, dtype=np.int64),
        sessions={k: np.asarray(v, dtype=SESSION_COLUMNS[k]) for k, v in sessions.items()},
        keys=keys,
        uids=[None] * len(keys),
    )
    return SynthData(batch, tables, labels)


# ------------------------------------------------------------------------------------ live mode


def iter_live(
    rate_eps: float = 2000.0,
    incident_at_s: float | None = 60.0,
    seed: int = 0,
    *,
    incident: Incident | None = None,
    tick_s: float = 0.1,
    duration_s: float | None = None,
    warm_s: float = 120.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    labels: list[Label] | None = None,
) -> Iterator[bytes]:
    """Endless wall-clock traffic at about ``rate_eps`` events/s: yields an NDJSON chunk every
    ``tick_s`` holding the events whose ``ts`` (ms, ~``clock()*1000``) has come. The incident
    (default: ``POST /api/cart`` x8 latency, 30 % errors for 3 min) starts ``incident_at_s``
    after the first call; None for no incident. Labels, if a list is given, are appended.

    Sessions are also started as if traffic had been flowing for ``warm_s`` seconds (their
    earlier events are not sent), so the rate is steady from the first second rather than
    ramping up over a session's length."""
    t0 = int(clock() * 1000)
    inc = None
    if incident_at_s is not None:
        base = incident or Incident()
        inc = msgspec.structs.replace(base, start_s=incident_at_s)
    cfg = SynthConfig(seed=seed, start_ts=t0, incident=inc)
    window = _incident_window(cfg)
    sink: list[Label] = labels if labels is not None else []
    # sessions/s that give rate_eps, re-estimated from what was generated
    ev_per_session = 150.0
    generated_sessions = 0
    generated_events = 0
    next_start = float(t0) - warm_s * 1000.0
    rng = random.Random(seed ^ 0x11FE)
    heap_ts = np.empty(0, np.int64)
    heap_lines: list[bytes] = []
    index = 0
    while True:
        now = int(clock() * 1000)
        if duration_s is not None and now - t0 > duration_s * 1000:
            return
        horizon = now + int(tick_s * 1000)
        new_ts: list[int] = []
        new_lines: list[bytes] = []
        while next_start <= horizon:
            s = _make_session(
                seed, index, int(next_start), cfg, window, sink if labels is not None else []
            )
            index += 1
            generated_sessions += 1
            generated_events += len(s.events)
            ev_per_session = (
                generated_events / generated_sessions if generated_sessions > 20 else ev_per_session
            )
            new_ts.extend(e[_TS] for e in s.events)
            new_lines.extend(_encode_session(s))
            next_start += rng.expovariate(max(rate_eps, 1e-3) / ev_per_session) * 1000.0
        if new_lines:
            nts = np.asarray(new_ts, np.int64)
            fresh = nts >= t0  # warm-up sessions: only what happens from now on
            if not fresh.all():
                new_lines = [ln for ln, f in zip(new_lines, fresh.tolist(), strict=False) if f]
                nts = nts[fresh]
            heap_ts = np.concatenate([heap_ts, nts])
            heap_lines.extend(new_lines)
        order = np.argsort(heap_ts, kind="stable")
        n_ready = int(np.searchsorted(heap_ts[order], now, side="right"))
        if n_ready:
            ready = order[:n_ready]
            yield b"\n".join([heap_lines[j] for j in ready.tolist()]) + b"\n"
            rest = order[n_ready:]
            heap_lines = [heap_lines[j] for j in rest.tolist()]
            heap_ts = heap_ts[rest]
        sleep(max(0.0, tick_s - (clock() * 1000 - now) / 1000))
