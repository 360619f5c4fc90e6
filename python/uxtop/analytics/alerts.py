"""Alert rules from config → events for the screen, a JSON line on stdout, an optional command.

A rule fires when its condition holds for ``for_buckets`` finished buckets in a row (with at
least ``min_count`` events behind the value) and resolves after as many buckets without it, so
one noisy bucket neither fires nor resolves an alert. The command gets the alert as JSON on stdin
and runs off the analytics thread, so a slow webhook script never stalls the tick. A rule's
commands run one after another in the order its alerts changed state — a pager never sees
"resolved" before the "firing" it resolves — each with a time limit, behind a bounded queue.
"""

from __future__ import annotations

import operator
import queue
import shlex
import subprocess
import sys
import threading
import time
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


#: how long one alert command may run before it is killed, seconds
COMMAND_TIMEOUT_S = 30.0
#: alert lines a rule's command may fall behind by before new ones are dropped (and counted)
COMMAND_QUEUE = 64


class _CommandRunner:
    """Runs one rule's command for each of its alerts, in order, on a daemon thread.

    Ordered delivery needs one run at a time per rule; a queue keeps the analytics tick from
    waiting on it, and its bound keeps a hung or slow hook from growing memory without limit.
    """

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        self.argv = shlex.split(rule.command or "")
        self.dropped = 0
        self._queue: queue.Queue[bytes] = queue.Queue(COMMAND_QUEUE)
        self._thread = threading.Thread(
            target=self._run, name=f"uxtop-alert-{rule.name}", daemon=True
        )
        self._thread.start()

    def submit(self, line: bytes) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            print(
                f"uxtop: alert command for {self.rule.name!r} is {COMMAND_QUEUE} alerts behind; "
                f"dropped one ({self.dropped} so far)",
                file=sys.stderr,
            )

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            try:
                self._deliver(line)
            except Exception as exc:  # a missing or broken hook: the next alert still goes out
                print(f"uxtop: alert command for {self.rule.name!r} failed: {exc}", file=sys.stderr)
            finally:
                self._queue.task_done()

    def _deliver(self, line: bytes) -> None:
        p = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            p.communicate(line, timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print(
                f"uxtop: alert command for {self.rule.name!r} ran over {COMMAND_TIMEOUT_S:g} s "
                "and was killed",
                file=sys.stderr,
            )

    def idle(self, deadline: float) -> bool:
        """Wait until every queued alert is delivered, or the deadline passes."""
        # Queue.join has no timeout; poll its counter instead.
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True


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
        self._runners: dict[int, _CommandRunner] = {}  # by rule index: names need not be unique

    def evaluate(self, ts: int, lookup: Lookup) -> list[AlertEvent]:
        out: list[tuple[AlertEvent, int]] = []
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
                out.append((self._event(rule, "firing", value, ts), i))
            elif self.firing[i] and self.misses[i] >= rule.for_buckets:
                self.firing[i] = False
                out.append((self._event(rule, "resolved", value, ts), i))
        for ev, i in out:
            self._emit(ev, i)
        changed = [ev for ev, _ in out]
        self.events.extend(changed)
        del self.events[:-500]
        return changed

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

    def _emit(self, ev: AlertEvent, i: int) -> None:
        rule = self.rules[i]
        line = msgspec.json.encode(ev).decode()
        if self.json_out is not None:
            self.json_out.write(line + "\n")
            self.json_out.flush()
        if rule.command and self.run_commands:
            runner = self._runners.get(i)
            if runner is None:
                runner = self._runners[i] = _CommandRunner(rule)
            runner.submit(line.encode() + b"\n")

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait for queued alert commands to finish (tests, shutdown); True if all did."""
        deadline = time.monotonic() + timeout
        return all(r.idle(deadline) for r in self._runners.values())
