"""The fast ingest path of ``Analytics.update`` (numba kernels, numpy grouping, array-backed key
maps) against its frozen plain-Python twin (``_legacy_analytics``, the code before the kernels):
same snapshot bytes, same series history, same evidence, same funnel state, batch by batch."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from _legacy_analytics.live import Analytics as LegacyAnalytics
from uxtop.analytics import Analytics, load_analytics_config
from uxtop.analytics.simulate import Incident, ShopTraffic, checkout_funnel_config

START = 1_767_225_600_000


def _cfgs() -> dict[str, dict]:
    fc = checkout_funnel_config()
    strict = dict(fc, name="strict", order="strict")
    unord = dict(fc, name="unord", order="unordered", breakdown=["geo"])
    return {
        "inferred": {},
        "checkout": {"funnels": [fc]},
        "three": {"funnels": [fc, strict, unord]},
        "no_funnel": {"infer_funnel": False},
    }


def _same_evidence(a, b) -> None:  # noqa: ANN001
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.t0 == y.t0
        for f in ("route_sessions", "flags_route", "errors", "count"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f)
        assert x.flag_examples == y.flag_examples
        assert x.examples == y.examples
        assert x.messages == y.messages
        assert list(x.messages) == list(y.messages)


def _compare(new: Analytics, old: LegacyAnalytics) -> None:
    assert new.ticks == old.ticks and new.events == old.events
    assert new.agg.late_events == old.agg.late_events
    assert new.agg.route_labels == old.agg.route_labels
    assert [k.label() for k in new.bank.keys] == [k.label() for k in old.bank.keys]
    np.testing.assert_array_equal(new.bank.history, old.bank.history)
    _same_evidence(new._evidence, old._evidence)
    for d in ("pair", "page", "arrivals"):
        assert list(getattr(new.journey, d).items()) == list(getattr(old.journey, d).items()), d
    assert len(new.funnels) == len(old.funnels)
    for e, f in zip(new.funnels, old.funnels, strict=True):
        assert e.cfg == f.cfg
        np.testing.assert_array_equal(e.depth_hist, f.depth_hist)
        np.testing.assert_array_equal(e.friction, f.friction)
        for r, s in zip(e._res, f._res, strict=True):
            np.testing.assert_array_equal(r, s)
    enc = msgspec.json.encode
    assert enc(new.snapshot()) == enc(old.snapshot())


@pytest.mark.parametrize("cfg_name", list(_cfgs()))
@pytest.mark.parametrize("chunk_s,seed", [(10, 1), (60, 2), (600, 3)])
def test_update_equals_legacy(cfg_name: str, chunk_s: int, seed: int) -> None:
    cfg = load_analytics_config(_cfgs()[cfg_name])
    tr = ShopTraffic(
        sessions_per_min=200,
        amplitude=0.3,
        seed=seed,
        incidents=[
            Incident("POST /api/pay", START + 12 * 60_000, minutes=5),
            Incident("GET /api/cart", START + 25 * 60_000, minutes=5, release="2.3"),
        ],
    )
    tables = tr.tables()
    new, old = Analytics(cfg), LegacyAnalytics(cfg)
    for i, (batch, flags) in enumerate(tr.batches(0.6, chunk_s=chunk_s)):
        assert new.update(batch, tables, flags) == old.update(batch, tables, flags)
        if i % max(1, 2160 // chunk_s // 4) == 3:
            _compare(new, old)
    new.flush()
    old.flush()
    _compare(new, old)
