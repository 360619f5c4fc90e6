"""Print rates and ratios (uxtop over each peer) at the end of a benchmark run."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    session = getattr(config, "_benchmarksession", None)
    if session is None or not getattr(session, "benchmarks", None):
        return
    groups: dict[str, list[tuple[str, float]]] = {}
    for b in session.benchmarks:
        info = b.extra_info
        if "contender" not in info or "events" not in info or not b.stats:
            continue
        rate = info["events"] / b.stats.min
        groups.setdefault(b.group or "", []).append((info["contender"], rate))
    for group, rows in groups.items():
        base = dict(rows).get("uxtop")
        terminalreporter.section(f"rates: {group}")
        for name, rate in rows:
            ratio = f"uxtop is {base / rate:.1f}x" if base and name != "uxtop" else ""
            terminalreporter.write_line(f"{name:<18} {rate / 1e6:8.2f} M events/s  {ratio}")
