"""SeriesBank.push's kernel (``_push_kernel``) against its numpy meaning (``values_reference``),
bucket by bucket over generated shop traffic: routes, cohort columns, flags and funnel steps."""

from __future__ import annotations

import numpy as np

from uxtop.analytics import Analytics, load_analytics_config
from uxtop.analytics.series import SeriesBank
from uxtop.analytics.simulate import Incident, ShopTraffic, checkout_funnel_config

START = 1_767_225_600_000


def test_push_kernel_equals_the_reference_on_every_bucket(monkeypatch) -> None:
    seen = {"kernel": 0, "reference": 0}
    push = SeriesBank.push

    def checked(self, frame, agg, step_labels, step_prev):  # type: ignore[no-untyped-def]
        fast = self._values_kernel(frame, agg, step_labels, step_prev)
        if fast is not None:
            seen["kernel"] += 1
            n = self.n
            ref_x, ref_w = self.values_reference(frame, agg, step_labels, step_prev)
            assert self.n == n  # the kernel ran only when no cell needed a new row
            # same values, NaN where the row had no data, and same weights
            np.testing.assert_array_equal(fast[0], ref_x)
            np.testing.assert_array_equal(fast[1], ref_w)
        else:
            seen["reference"] += 1
        return push(self, frame, agg, step_labels, step_prev)

    monkeypatch.setattr(SeriesBank, "push", checked)
    tr = ShopTraffic(
        sessions_per_min=60,
        incidents=[Incident("POST /api/pay", START + 90 * 60_000)],
        seed=5,
    )
    an = Analytics(load_analytics_config({"funnels": [checkout_funnel_config()]}))
    tables = tr.tables()
    for batch, flags in tr.batches(3, chunk_s=600):
        an.update(batch, tables, flags)
    an.flush()
    assert an.bank.n > 50  # routes × cohorts, flags, steps: the families all have rows
    assert seen["kernel"] > 10 * seen["reference"] > 0
