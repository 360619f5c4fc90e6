"""Shared pieces of the health sources: route naming and the ``request`` event they all emit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from uxtop.schema import Event, EventType

_NUM = re.compile(r"^\d+$")
_HEX = re.compile(r"^[0-9a-fA-F-]{16,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class RouteRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``pattern`` (regex on ``METHOD /path``) → ``route`` name, checked before templating."""

    pattern: str
    route: str


class HealthConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings shared by the health sources (the ``[health]`` table).

    template_ids: replace numeric, UUID and long hex path segments by ``:id`` so
        ``GET /orders/123`` and ``GET /orders/456`` are one route.
    routes: explicit rules, first match wins.
    uid_from_client: key the pseudo-sessions by client address (else one key per source).
    """

    template_ids: bool = True
    routes: list[RouteRule] = []
    uid_from_client: bool = True
    source: str = "health"


@dataclass
class Counters:
    lines: int = 0
    events: int = 0
    bad: int = 0
    bad_examples: list[tuple[int, str]] = field(default_factory=list)

    def fail(self, lineno: int, why: str) -> None:
        self.bad += 1
        if len(self.bad_examples) < 20:
            self.bad_examples.append((lineno, why))


class RouteNamer:
    def __init__(self, cfg: HealthConfig) -> None:
        self.cfg = cfg
        self._rules = [(re.compile(r.pattern), r.route) for r in cfg.routes]
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, method: str, path: str) -> str:
        key = (method, path)
        got = self._cache.get(key)
        if got is not None:
            return got
        p = path.split("?", 1)[0].split("#", 1)[0] or "/"
        if p.startswith(("http://", "https://")):
            slash = p.find("/", p.find("//") + 2)
            p = p[slash:] if slash >= 0 else "/"
        full = f"{method.upper()} {p}" if method else p
        for rx, name in self._rules:
            if rx.search(full):
                self._cache[key] = name
                return name
        if self.cfg.template_ids:
            segs = [
                ":id" if (_NUM.match(s) or _UUID.match(s) or _HEX.match(s)) else s
                for s in p.split("/")
            ]
            p = "/".join(segs)
        route = f"{method.upper()} {p}" if method else p
        if len(self._cache) < 100_000:
            self._cache[key] = route
        return route


def request_event(
    ts_ms: int,
    route: str,
    status: int | None,
    dur_ms: float | None,
    uid: str,
    url: str | None = None,
    msg: str | None = None,
    sid: str | None = None,
    props: dict[str, Any] | None = None,
) -> Event:
    return Event(
        ts=ts_ms,
        uid=uid,
        sid=sid,
        type=EventType.REQUEST,
        route=route,
        status=status,
        dur=dur_ms,
        url=url,
        msg=msg,
        props=props,
    )


_ENC = msgspec.json.Encoder()


def to_ndjson(events: Iterable[Event]) -> bytes:
    """Canonical NDJSON, ready for ``Ingestor.feed``."""
    buf = bytearray()
    for ev in events:
        buf += _ENC.encode(ev)
        buf += b"\n"
    return bytes(buf)
