"""Settings of the analytics layer (the ``[analytics]`` table of ``uxtop.toml``).

Every Struct validates in ``__post_init__`` and raises ``AnalyticsConfigError`` whose message
names the key (``analytics.funnels[0].steps[2].url``) and says how to fix it, because a typo in a
funnel otherwise shows up only as a funnel that never converts.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal, NoReturn

import msgspec

from uxtop.schema import EventType

OrderMode = Literal["ordered", "strict", "unordered"]
CohortDim = Literal["dev", "rel", "geo"]
COHORT_DIMS: tuple[str, ...] = ("dev", "rel", "geo")
_EVENT_TYPES = {t.value for t in EventType}


class AnalyticsConfigError(ValueError):
    """A bad analytics setting; the message names the key and the fix."""


def _fail(key: str, problem: str, fix: str) -> NoReturn:
    raise AnalyticsConfigError(f"{key}: {problem}; {fix}")


class StepConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One funnel step (or exclusion): an event matches when every given field matches.

    type: event type (``pageview``, ``click``, ``request`` …).
    url: glob on the page path (``*`` any run of characters, ``?`` one; ``/checkout*``).
    target: glob on the element key (``button#pay*``).
    route: glob on the backend route (``POST /api/pay*``).
    name: label shown on screens (defaults to a summary of the matchers).
    """

    type: str | None = None
    url: str | None = None
    target: str | None = None
    route: str | None = None
    name: str | None = None

    def label(self) -> str:
        if self.name:
            return self.name
        parts = [p for p in (self.type, self.url, self.target, self.route) if p]
        return " ".join(parts) if parts else "any event"

    def check(self, key: str) -> None:
        if self.type is not None and self.type not in _EVENT_TYPES:
            _fail(
                f"{key}.type",
                f"unknown event type {self.type!r}",
                f"use one of {sorted(_EVENT_TYPES)}",
            )
        if not any((self.type, self.url, self.target, self.route)):
            _fail(key, "matches every event", "give at least one of type, url, target, route")
        for field in ("url", "target", "route"):
            pat = getattr(self, field)
            if pat is not None and pat == "":
                _fail(
                    f"{key}.{field}",
                    "is empty",
                    "remove the key or give a glob such as '/checkout*'",
                )


class ExclusionConfig(StepConfig, frozen=True, forbid_unknown_fields=True):
    """An exclusion step: a unit that does this between steps ``from_step`` and ``to_step``
    (0-based, ``from_step < to_step``) within the window is out of the funnel (PostHog semantics).
    """

    from_step: int = 0
    to_step: int = -1  # -1: the last step


class FunnelConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A funnel: ``steps`` in ``order`` within ``window_s`` from the first step.

    unit: ``session`` (default) or ``user`` (the ``uid``; sessions of one user are joined).
    breakdown: cohort dimensions to split counts by (``dev``, ``rel``, ``geo``).
    """

    name: str
    steps: list[StepConfig]
    order: OrderMode = "ordered"
    window_s: float = 30 * 60.0
    exclusions: list[ExclusionConfig] = []
    breakdown: list[CohortDim] = []
    unit: Literal["session", "user"] = "session"

    def check(self, key: str) -> None:
        if not self.name.strip():
            _fail(f"{key}.name", "is empty", "name the funnel, e.g. name = 'checkout'")
        if len(self.steps) < 2:
            _fail(
                f"{key}.steps", f"has {len(self.steps)} step(s)", "a funnel needs at least 2 steps"
            )
        if len(self.steps) > 30:
            _fail(f"{key}.steps", "has more than 30 steps", "split the funnel")
        if not self.window_s > 0:
            _fail(
                f"{key}.window_s",
                f"must be > 0 (got {self.window_s})",
                "e.g. window_s = 1800 for 30 minutes",
            )
        for i, st in enumerate(self.steps):
            st.check(f"{key}.steps[{i}]")
        if self.exclusions and self.order == "unordered":
            _fail(
                f"{key}.exclusions",
                "are not supported in unordered funnels",
                "use order = 'ordered' or drop them",
            )
        n = len(self.steps)
        for i, ex in enumerate(self.exclusions):
            k = f"{key}.exclusions[{i}]"
            ex.check(k)
            to = ex.to_step if ex.to_step >= 0 else n - 1
            if not 0 <= ex.from_step < to <= n - 1:
                _fail(
                    k,
                    f"step range [{ex.from_step}, {ex.to_step}] is invalid for {n} steps",
                    f"need 0 <= from_step < to_step <= {n - 1}",
                )
            for j, st in enumerate(self.steps):
                if (ex.type, ex.url, ex.target, ex.route) == (st.type, st.url, st.target, st.route):
                    _fail(k, f"is the same as steps[{j}]", "an exclusion may not be a funnel step")
        for i, d in enumerate(self.breakdown):
            if d not in COHORT_DIMS:
                _fail(
                    f"{key}.breakdown[{i}]", f"unknown dimension {d!r}", f"use one of {COHORT_DIMS}"
                )


class AlertRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A threshold rule on a series, checked every bucket.

    metric: ``p95`` | ``p99`` | ``p50`` | ``error_rate`` | ``count`` (of a ``route``),
        ``conversion`` (of ``funnel`` step ``step``), ``flag_rate`` (flags of ``flag`` kind per
        active session), ``active_sessions``.
    op/threshold: fire when ``value op threshold`` holds for ``for_buckets`` buckets in a row.
    command: optional command run when the alert fires and when it resolves, with the alert as
        JSON on stdin; split into words as a shell would, but not run by one. A rule's runs go
        one at a time in the order its state changed, each killed after 30 s (``alerts.py``).
    """

    name: str
    metric: Literal[
        "p50", "p95", "p99", "error_rate", "count", "conversion", "flag_rate", "active_sessions"
    ]
    threshold: float
    op: Literal[">", "<", ">=", "<="] = ">"
    route: str | None = None
    funnel: str | None = None
    step: int | None = None
    flag: str | None = None
    for_buckets: int = 3
    command: str | None = None
    min_count: int = 20

    def check(self, key: str) -> None:
        if self.metric in ("p50", "p95", "p99", "error_rate", "count") and not self.route:
            _fail(
                f"{key}.route",
                f"metric {self.metric!r} needs a route",
                "e.g. route = 'POST /api/pay'",
            )
        if self.metric == "conversion" and (self.funnel is None or self.step is None):
            _fail(
                key,
                "metric 'conversion' needs funnel and step",
                "e.g. funnel = 'checkout', step = 2",
            )
        if self.metric == "flag_rate" and not self.flag:
            _fail(f"{key}.flag", "metric 'flag_rate' needs a flag kind", "e.g. flag = 'rage_click'")
        if self.for_buckets < 1:
            _fail(f"{key}.for_buckets", "must be >= 1", "e.g. for_buckets = 3")
        if self.command is not None:
            try:
                words = shlex.split(self.command)
            except ValueError as exc:  # unbalanced quotes: found now, not when the alert fires
                _fail(f"{key}.command", f"cannot be split into words ({exc})", "balance its quotes")
            if not words:
                _fail(f"{key}.command", "is empty", "name a program, or leave command out")


class AnomalyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Seasonal robust detector settings (reference/analytics.md, recommendations 1–5).

    z_persist/persist_k/persist_n: fire when ≥ k of the last n buckets have |z| > z_persist.
    z_single: or one bucket beyond this. z_window: or the pooled (Stouffer) z of the last n
    buckets beyond this, for sparse series whose single buckets are too noisy. recover_n: buckets in a row back within z_persist / 2 to recover.
    min_events/min_sessions: volume gates over the persistence window; min_share: cohort gate.
    top_values: cohort values per dimension tracked as their own series (rest → "other").
    """

    z_persist: float = 4.0
    persist_k: int = 5
    persist_n: int = 6
    z_single: float = 8.0
    z_window: float = 6.0
    recover_n: int = 6
    min_events: int = 50
    min_sessions: int = 30
    min_share: float = 0.02
    top_values: int = 20
    daily_after_days: int = 3
    weekly_after_weeks: int = 3
    ewma_lambda: float = 0.2
    ewma_L: float = 3.0
    drift_buckets: int = 60
    max_series: int = 20_000

    def check(self, key: str) -> None:
        if not 1 <= self.persist_k <= self.persist_n <= 64:
            _fail(
                f"{key}.persist_k",
                "needs 1 <= persist_k <= persist_n <= 64",
                "e.g. persist_k = 5, persist_n = 6",
            )
        if not 0 < self.z_persist < self.z_single:
            _fail(
                f"{key}.z_single", "must exceed z_persist > 0", "e.g. z_persist = 4, z_single = 8"
            )
        if not 0 < self.ewma_lambda <= 1:
            _fail(f"{key}.ewma_lambda", "must be in (0, 1]", "e.g. 0.2")
        if not 0 <= self.min_share < 1:
            _fail(f"{key}.min_share", "must be in [0, 1)", "e.g. 0.02")


class CorrelationConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Health → usage links: lags 0..max_lag_s with health leading, on 1-min deseasonalised rollups."""

    max_lag_s: int = 15 * 60
    rollup_s: int = 60
    min_abs_r: float = 0.3
    min_sessions_per_min: float = 30.0
    history_s: int = 6 * 3600

    def check(self, key: str) -> None:
        if self.rollup_s <= 0 or self.max_lag_s < 0 or self.max_lag_s % self.rollup_s:
            _fail(
                f"{key}.max_lag_s",
                "must be >= 0 and a multiple of rollup_s",
                "e.g. max_lag_s = 900, rollup_s = 60",
            )


class JourneyLink(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Override of the learned journey map: pages matching ``url`` (glob) call ``routes``."""

    url: str
    routes: list[str]


class AnalyticsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[analytics]`` table.

    bucket_s: series bucket width (10 s default; screens zoom by rolling up).
    history_buckets: finished buckets kept per series for screens and the rolling baseline.
    infer_funnel: infer a default funnel from traffic when ``funnels`` is empty.
    """

    funnels: list[FunnelConfig] = []
    alerts: list[AlertRule] = []
    bucket_s: int = 10
    history_buckets: int = 360
    infer_funnel: bool = True
    anomaly: AnomalyConfig = AnomalyConfig()
    correlation: CorrelationConfig = CorrelationConfig()
    journey: list[JourneyLink] = []
    max_routes: int = 200
    example_sessions: int = 5

    def __post_init__(self) -> None:
        if self.bucket_s <= 0 or 300 % self.bucket_s:
            _fail(
                "analytics.bucket_s",
                f"must divide 300 (the 5-min seasonal slot), got {self.bucket_s}",
                "use 5, 10, 15, 30, 60 …",
            )
        if not 1 <= self.max_routes <= 4096:
            _fail("analytics.max_routes", f"must be in 1..4096, got {self.max_routes}", "e.g. 200")
        if self.history_buckets < 60:
            _fail(
                "analytics.history_buckets", "must be >= 60", "e.g. 360 (one hour of 10-s buckets)"
            )
        names = [f.name for f in self.funnels]
        for i, f in enumerate(self.funnels):
            f.check(f"analytics.funnels[{i}]")
            if names.count(f.name) > 1:
                _fail(
                    f"analytics.funnels[{i}].name",
                    f"duplicate funnel name {f.name!r}",
                    "give each funnel its own name",
                )
        for i, a in enumerate(self.alerts):
            a.check(f"analytics.alerts[{i}]")
            if (
                a.funnel is not None
                and a.funnel not in names
                and not (not names and self.infer_funnel)
            ):
                _fail(
                    f"analytics.alerts[{i}].funnel",
                    f"no funnel named {a.funnel!r}",
                    f"use one of {names}",
                )
        self.anomaly.check("analytics.anomaly")
        self.correlation.check("analytics.correlation")
        if self.correlation.rollup_s % self.bucket_s:
            _fail(
                "analytics.correlation.rollup_s",
                "must be a multiple of bucket_s",
                f"e.g. {self.bucket_s * 6}",
            )


def load_analytics_config(obj: dict | bytes | str | None) -> AnalyticsConfig:
    """Build from a dict (the parsed ``[analytics]`` table) or TOML text; errors name the key."""
    if obj is None:
        return AnalyticsConfig()
    if isinstance(obj, (bytes, str)):
        data = msgspec.toml.decode(obj)
        obj = data.get("analytics", data)
    try:
        return msgspec.convert(obj, AnalyticsConfig)
    except msgspec.ValidationError as exc:
        # msgspec says "... - at `$.funnels[0].order`"; rewrite the path to the TOML key
        msg = str(exc)
        m = re.search(r"at `\$(.*)`", msg)
        where = "analytics" + (m.group(1) if m else "")
        raise AnalyticsConfigError(
            f"{where}: {msg.split(' - at ')[0]}; check the type and spelling"
        ) from None


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Glob with ``*`` and ``?`` only (no character classes: selectors contain brackets)."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)
