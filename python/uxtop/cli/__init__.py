"""The ``uxtop`` command line: one module per subcommand, each with ``register(subparsers)``.

A subcommand module defines ``register(sub: argparse._SubParsersAction) -> None`` which adds its
parser and sets ``func`` (called with the parsed args, returns an exit code). Imports of heavy
modules (numba, textual) happen inside ``func`` so ``uxtop --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand modules, in the order ``--help`` lists them
COMMANDS = ("demo", "tail", "stats", "report", "eval", "synth", "bench")

EPILOG = """\
examples:
  uxtop demo                         live TUI on built-in synthetic shop traffic
  uxtop stats events.ndjson --json   parse + sessionise a file, print counts
  uxtop bench                        measure uxtop against msgspec, orjson, polars, duckdb

Every command has its own --help with examples: uxtop COMMAND --help
"""


class UsageError(Exception):
    """A user error with a message that says what to do; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uxtop",
        description="htop for user experience: tail web-session event streams, find where "
        "people struggle, tie it to backend health and funnel drop-off.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from uxtop import __version__

    parser.add_argument("--version", action="version", version=f"uxtop {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"uxtop.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"uxtop.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"uxtop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
