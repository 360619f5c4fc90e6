"""Detector settings (the ``[detect]`` table of ``uxtop.toml``) and parity profiles.

Every threshold the kernels use lives here, never as a literal inside a kernel. A *profile*
starts from the published defaults of one tool (see ``shared/reference/signals.md`` §1–§3), so
a user can reproduce the number their current tool shows; ``uxtop`` is our own default:
as careful as the best of them (same element, selection/scroll/stepper suppressions, Sentry's
dead/slow tiers, "a reaction belongs to the last click").
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from uxtop.detect.flags import FLAG_KIND_NAMES

PROFILES = ("uxtop", "posthog", "datadog", "amplitude", "sentry")

#: target classes (see ``uxtop.detect.classify``) by name, for the ``suppress`` lists
TargetClassName = Literal[
    "text",
    "stepper",
    "download",
    "new_tab",
    "interactive",
    "field",
    "anchor",
    "media",
    "ignored",
    "no_rage",
    "no_dead",
]


class _Cfg(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class RageConfig(_Cfg, frozen=True):
    """Rage click: a burst of clicks, each close in time and space to the previous one.

    metric: distance between successive clicks: ``euclid``, ``manhattan`` (PostHog), ``box``
        (the whole burst inside a radius_px square, Amplitude) or ``none``.
    window_ms: if > 0, some min_clicks consecutive clicks must also fit in this span
        (Datadog 3 in 1 s, Amplitude 4 in 1 s).
    fold_double_clicks: a ``dblclick`` event turns its two clicks into one gesture
        (a double-click to zoom is not 2/3 of a rage click).
    cancel_on_scroll / cancel_on_selection: a scroll or selection within reaction_window_ms
        after a burst click means the clicks did something (jump link, triple-click select).
    require_dead: Sentry: rage = a dead click group clicked >= min_clicks times.
    suppress: target classes whose clicks never count.
    """

    min_clicks: int = 3
    max_gap_ms: int = 1000
    window_ms: int = 0
    radius_px: int = 30
    metric: Literal["euclid", "manhattan", "box", "none"] = "euclid"
    same_target: bool = True
    fold_double_clicks: bool = True
    cancel_on_scroll: bool = True
    cancel_on_selection: bool = True
    reaction_window_ms: int = 300
    require_dead: bool = False
    suppress: tuple[TargetClassName, ...] = ("text", "stepper", "ignored", "no_rage")


class DeadConfig(_Cfg, frozen=True):
    """Dead click: a click (group) with no visible reaction.

    Clicks on one target with gaps <= fold_ms form one group, judged from its first click.
    Reactions: mutation, pageview and submit within dead_ms; scroll, selection, focus, blur,
    visibility, input and change within quick_reaction_ms of the group's last click; requests
    only if request_is_reaction (Datadog counts network activity, Sentry and we do not).
    credit_until_next_click: a reaction after the user clicked something else belongs to that
        click, not this one; if that came sooner than min_observe_ms there is no verdict.
    slow_ms: a first reaction later than this makes the click a slow interaction (Sentry's
        "slow click" tier); none by dead_ms makes it dead.
    interactive_only: judge only elements that promise a reaction (a, button, submit ...).
    """

    dead_ms: int = 7000
    slow_ms: int = 3000
    quick_reaction_ms: int = 1000
    fold_ms: int = 1000
    min_observe_ms: int = 1000
    credit_until_next_click: bool = True
    request_is_reaction: bool = False
    interactive_only: bool = True
    suppress: tuple[TargetClassName, ...] = (
        "text",
        "download",
        "new_tab",
        "media",
        "ignored",
        "no_dead",
    )


class ErrorClickConfig(_Cfg, frozen=True):
    """Error click: a JS error or failed request (status >= status_min) within window_ms after
    a click, before the next page view and before a click elsewhere (the last click wins)."""

    window_ms: int = 2000
    status_min: int = 500
    suppress: tuple[TargetClassName, ...] = ("ignored",)


class SlowConfig(_Cfg, frozen=True):
    """Slow interaction: a request started within trigger_ms of a click (same page, before a
    click elsewhere) took >= request_ms, or the click's first reaction came after dead.slow_ms."""

    request_ms: int = 3000
    trigger_ms: int = 1000
    late_reaction: bool = True
    suppress: tuple[TargetClassName, ...] = ("text", "download", "new_tab", "ignored")


class ThrashConfig(_Cfg, frozen=True):
    """Thrashed cursor: >= min_reversals direction reversals on one axis within window_ms
    (Amplitude: 20 in 2 s). Reversals more than chain_gap_ms apart end an episode, as does
    reaching max_episode_ms; moves shorter than min_delta_px are jitter, not a direction."""

    min_reversals: int = 20
    window_ms: int = 2000
    chain_gap_ms: int = 500
    max_episode_ms: int = 60_000
    min_delta_px: int = 3


class UTurnConfig(_Cfg, frozen=True):
    """U-turn (quick back): page A, page B, back to A with less than max_dwell_ms on B."""

    max_dwell_ms: int = 7000


class PageLoopConfig(_Cfg, frozen=True):
    """Page loop: >= min_visits visits to one URL, each within window_ms of the previous one,
    some min_visits of them within window_ms (Conviva: 3 in 15 s)."""

    min_visits: int = 3
    window_ms: int = 15000


class ScrollConfig(_Cfg, frozen=True):
    """Excessive scroll / scroll bounce: >= min_reversals up/down reversals within window_ms;
    reversals more than chain_gap_ms apart, or max_episode_ms, end an episode; steps
    < min_delta_px are ignored."""

    min_reversals: int = 4
    window_ms: int = 10000
    chain_gap_ms: int = 3000
    max_episode_ms: int = 120_000
    min_delta_px: int = 20


class FormConfig(_Cfg, frozen=True):
    """Form struggle, per page visit: >= min_returns re-entries into fields already filled,
    or a focus -> first input pause >= hesitation_ms, or input into >= abandon_min_fields
    fields and no submit before leaving the page or the session."""

    min_returns: int = 2
    hesitation_ms: int = 10000
    abandon_min_fields: int = 2


class ScoreConfig(_Cfg, frozen=True):
    """Per-session friction score = sum over flags of weight[kind] x severity (capped at
    severity_cap). Weights by flag kind name."""

    weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "rage_click": 3.0,
            "dead_click": 2.0,
            "error_click": 3.0,
            "thrashed_cursor": 1.0,
            "u_turn": 1.0,
            "page_loop": 2.0,
            "excessive_scroll": 1.0,
            "form_struggle": 2.0,
            "slow_interaction": 2.0,
        }
    )
    severity_cap: float = 3.0


class DetectConfig(_Cfg, frozen=True):
    """All detector settings. ``DetectConfig.for_profile("datadog")`` gives a parity profile;
    ``ignore`` holds user ignore rules: substrings or ``.class``/``#id``/``[attr]`` tokens of
    targets whose clicks are never rage/dead/error/slow (like PostHog's ``.ph-no-capture``)."""

    profile: str = "uxtop"
    #: how far a session's future is taken as known. ``watermark``: up to the batch watermark
    #: minus hold_ms (the ingest core may still release events of an active session up to one
    #: lateness below its watermark), or the session's own last event if later — prompt
    #: verdicts for live streams. ``session``: only up to the session's last released event
    #: (exact for any input order, e.g. files grouped by session; the last verdicts of a
    #: session come when it closes). Closed sessions are always judged completely.
    frontier: Literal["watermark", "session"] = "watermark"
    hold_ms: int = 5000
    rage: RageConfig = msgspec.field(default_factory=RageConfig)
    dead: DeadConfig = msgspec.field(default_factory=DeadConfig)
    error: ErrorClickConfig = msgspec.field(default_factory=ErrorClickConfig)
    slow: SlowConfig = msgspec.field(default_factory=SlowConfig)
    thrash: ThrashConfig = msgspec.field(default_factory=ThrashConfig)
    uturn: UTurnConfig = msgspec.field(default_factory=UTurnConfig)
    loop: PageLoopConfig = msgspec.field(default_factory=PageLoopConfig)
    scroll: ScrollConfig = msgspec.field(default_factory=ScrollConfig)
    form: FormConfig = msgspec.field(default_factory=FormConfig)
    score: ScoreConfig = msgspec.field(default_factory=ScoreConfig)
    ignore: tuple[str, ...] = (".uxtop-ignore", ".ph-no-capture", "[data-uxtop-ignore]")
    #: clicks on targets with these tokens are never rage (PostHog's ``.ph-no-rageclick``)
    ignore_rage: tuple[str, ...] = (".ph-no-rageclick", ".uxtop-no-rage")
    ignore_dead: tuple[str, ...] = (".ph-no-deadclick", ".uxtop-no-dead")

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(
                f"detect.profile must be one of {', '.join(PROFILES)} (got {self.profile!r})"
            )
        checks = {
            "rage.min_clicks": (self.rage.min_clicks, 2, 16),
            "thrash.min_reversals": (self.thrash.min_reversals, 2, 64),
            "scroll.min_reversals": (self.scroll.min_reversals, 2, 64),
            "loop.min_visits": (self.loop.min_visits, 2, 16),
        }
        for key, (v, lo, hi) in checks.items():
            if not lo <= v <= hi:
                raise ValueError(f"detect.{key} must be in {lo}..{hi} (got {v})")
        for key, v in (
            ("rage.max_gap_ms", self.rage.max_gap_ms),
            ("dead.dead_ms", self.dead.dead_ms),
            ("dead.fold_ms", self.dead.fold_ms),
            ("error.window_ms", self.error.window_ms),
            ("thrash.window_ms", self.thrash.window_ms),
            ("uturn.max_dwell_ms", self.uturn.max_dwell_ms),
            ("loop.window_ms", self.loop.window_ms),
            ("scroll.window_ms", self.scroll.window_ms),
        ):
            if v <= 0:
                raise ValueError(f"detect.{key} must be > 0 (got {v})")
        if self.dead.slow_ms > self.dead.dead_ms:
            raise ValueError("detect.dead.slow_ms must be <= detect.dead.dead_ms")
        unknown = set(self.score.weights) - set(FLAG_KIND_NAMES)
        if unknown:
            raise ValueError(f"detect.score.weights: unknown kinds {sorted(unknown)}")

    @staticmethod
    def for_profile(name: str, **overrides: Any) -> DetectConfig:
        """The parity profile ``name`` (one of PROFILES), with optional top-level overrides."""
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; one of {', '.join(PROFILES)}")
        base = DetectConfig()
        changes = _PROFILE_CHANGES[name]
        fields: dict[str, Any] = {"profile": name}
        for section, values in changes.items():
            fields[section] = msgspec.structs.replace(getattr(base, section), **values)
        fields.update(overrides)
        return msgspec.structs.replace(base, **fields)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> DetectConfig:
        """From a parsed ``[detect]`` TOML table; ``profile`` picks the base, other keys override."""
        data = dict(data)
        profile = data.pop("profile", "uxtop")
        base = DetectConfig.for_profile(profile)
        merged = msgspec.structs.asdict(base)
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(merged.get(key), msgspec.Struct):
                merged[key] = {**msgspec.structs.asdict(merged[key]), **value}
            else:
                merged[key] = value
        merged = {
            k: msgspec.structs.asdict(v) if isinstance(v, msgspec.Struct) else v
            for k, v in merged.items()
        }
        try:
            return msgspec.convert(merged, DetectConfig)
        except msgspec.ValidationError as exc:
            raise ValueError(f"detect: {exc}") from None


#: what each parity profile changes from the uxtop defaults (sources: signals.md §1, §2)
_PROFILE_CHANGES: dict[str, dict[str, dict[str, Any]]] = {
    "uxtop": {},
    # posthog-js rageclick.ts + dead-clicks-autocapture.ts @9b2a1b18, 2026 defaults
    "posthog": {
        "rage": dict(
            min_clicks=3,
            max_gap_ms=1000,
            radius_px=30,
            metric="manhattan",
            same_target=False,
            fold_double_clicks=False,
            cancel_on_scroll=False,
            cancel_on_selection=False,
            suppress=("text", "stepper", "ignored", "no_rage"),
        ),
        "dead": dict(
            dead_ms=2500,
            slow_ms=2500,
            quick_reaction_ms=100,
            credit_until_next_click=False,
            min_observe_ms=0,
            interactive_only=False,
            suppress=("anchor", "text", "ignored", "no_dead"),
        ),
    },
    # DataDog browser-sdk computeFrustration.ts / clickChain.ts @b2344e74
    "datadog": {
        "rage": dict(
            min_clicks=3,
            max_gap_ms=1000,
            window_ms=1000,
            radius_px=100,
            metric="euclid",
            same_target=True,
            fold_double_clicks=False,
            cancel_on_scroll=True,
            cancel_on_selection=True,
            suppress=("ignored",),
        ),
        "dead": dict(
            dead_ms=100,
            slow_ms=100,
            quick_reaction_ms=100,
            request_is_reaction=True,
            credit_until_next_click=False,
            min_observe_ms=0,
            interactive_only=False,
            suppress=("text", "anchor", "media", "ignored", "no_dead"),
        ),
    },
    # Amplitude-TypeScript track-rage-click.ts / track-dead-click.ts @6deb0623
    "amplitude": {
        "rage": dict(
            min_clicks=4,
            max_gap_ms=1000,
            window_ms=1000,
            radius_px=50,
            metric="box",
            same_target=True,
            fold_double_clicks=False,
            cancel_on_scroll=False,
            cancel_on_selection=True,
            suppress=("ignored",),
        ),
        "dead": dict(
            dead_ms=3000,
            slow_ms=3000,
            quick_reaction_ms=3000,
            credit_until_next_click=False,
            min_observe_ms=0,
            interactive_only=True,
            suppress=("new_tab", "ignored", "no_dead"),
        ),
    },
    # sentry-javascript handleClick.ts @f7a6cc0c + sentry event_parser.py: rage = dead & >= 5
    "sentry": {
        "rage": dict(min_clicks=5, require_dead=True, metric="none", same_target=True),
        "dead": dict(
            dead_ms=7000,
            slow_ms=3000,
            quick_reaction_ms=300,
            fold_ms=1000,
            credit_until_next_click=False,
            min_observe_ms=0,
            interactive_only=True,
            suppress=("download", "new_tab", "ignored", "no_dead"),
        ),
    },
}

#: the engine looks for this name
DetectorConfig = DetectConfig
