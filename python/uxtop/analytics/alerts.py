"""Alert rules from config → events for the screen, a JSON line on stdout, an optional command.

A rule fires when its condition holds for ``for_buckets`` finished buckets in a row (with at
least ``min_count`` events behind the value) and resolves after as many buckets without it, so
one noisy bucket neither fires nor resolves an alert. The command gets the alert as JSON on stdin
and runs detached: a slow webhook script never stalls the analytics tick.
"""

from __future__ import annotations

import operator
import shlex
import subprocess
import sys
from collections.abc import Callable
from typing import IO

import msgspec

from uxtop.analytics.config import AlertRule

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class AlertEvent(msgspec.Struct, frozen=True):
    """An alert changing state. ``state``: ``firing`` or ``resolved``."""

    name: str
    metric: str
    subject: str
    state: str
    value: float
    threshold: float
    op: str
    ts: int
    message: str


#: (value, volume) of a rule's series in the bucket just finished, or None when it has no data
Lookup = Callable[[AlertRule], "tuple[float, float] | None"]


class AlertEngine:
    def __init__(
        self, rules: list[AlertRule], json_out: IO[str] | None = None, run_commands: bool = True
    ) -> None:
        self.rules = rules
        self.json_out = json_out
        self.run_commands = run_commands
        self.hits = [0] * len(rules)
        self.misses = [0] * len(rules)
        self.firing = [False] * len(rules)
        self.events: list[AlertEvent] = []
        self._procs: list[subprocess.Popen] = []

    def evaluate(self, ts: int, lookup: Lookup) -> list[AlertEvent]:
        out = []
        for i, rule in enumerate(self.rules):
            got = lookup(rule)
            hit = False
            value = float("nan")
            if got is not None:
                value, volume = got
                hit = (
                    volume >= rule.min_count
                    and value == value
                    and _OPS[rule.op](value, rule.threshold)
                )
            if hit:
                self.hits[i] += 1
                self.misses[i] = 0
            else:
                self.misses[i] += 1
                self.hits[i] = 0
            if not self.firing[i] and self.hits[i] >= rule.for_buckets:
                self.firing[i] = True
                out.append(self._event(rule, "firing", value, ts))
            elif self.firing[i] and self.misses[i] >= rule.for_buckets:
                self.firing[i] = False
                out.append(self._event(rule, "resolved", value, ts))
        for ev in out:
            self._emit(ev, self.rules[[r.name for r in self.rules].index(ev.name)])
        self.events.extend(out)
        del self.events[:-500]
        return out

    @staticmethod
    def _subject(rule: AlertRule) -> str:
        if rule.route:
            return rule.route
        if rule.funnel is not None:
            return f"{rule.funnel} step {rule.step}"
        return rule.flag or "all sessions"

    def _event(self, rule: AlertRule, state: str, value: float, ts: int) -> AlertEvent:
        subj = self._subject(rule)
        msg = (
            f"{rule.name}: {rule.metric} of {subj} is {value:.4g} ({rule.op} {rule.threshold:g})"
            if state == "firing"
            else f"{rule.name}: {rule.metric} of {subj} back to {value:.4g}"
        )
        return AlertEvent(
            name=rule.name,
            metric=rule.metric,
            subject=subj,
            state=state,
            value=value,
            threshold=rule.threshold,
            op=rule.op,
            ts=ts,
            message=msg,
        )

    def _emit(self, ev: AlertEvent, rule: AlertRule) -> None:
        line = msgspec.json.encode(ev).decode()
        if self.json_out is not None:
            self.json_out.write(line + "\n")
            self.json_out.flush()
        if rule.command and self.run_commands:
            self._procs = [p for p in self._procs if p.poll() is None]
            try:
                p = subprocess.Popen(
                    shlex.split(rule.command),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                assert p.stdin is not None
                p.stdin.write(line.encode() + b"\n")
                p.stdin.close()
                self._procs.append(p)
            except OSError as exc:  # a broken hook must not break analytics
                print(f"uxtop: alert command for {rule.name!r} failed: {exc}", file=sys.stderr)

    def wait(self, timeout: float = 5.0) -> None:
        """Wait for running alert commands (tests, shutdown)."""
        for p in self._procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
