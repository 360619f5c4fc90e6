"""Cohort root cause: Adtributor (Bhagwan et al., NSDI '14), one dimension at a time.

For a dimension with values j, actual A_j and expected (forecast) F_j of an additive measure:
explanatory power EP_j = (A_j − F_j)/(A − F) — the share of the change the value accounts for —
and surprise S_j = JS-divergence term between its expected share p_j = F_j/F and actual share
q_j = A_j/A. Values are taken greedily in descending surprise while EP_j > ``min_ep`` until
ΣEP > ``target_ep``; dimensions are ranked by the surprise of their chosen set. When no single
dimension explains enough, a 2-D pass scores pairs of values (Squeeze-lite) on the cuboid.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt


class RootCause(msgspec.Struct, frozen=True):
    """A cohort that explains ``explains`` (0–1) of the change; ``values`` are ``dim=value`` parts."""

    dim: str
    values: list[str]
    explains: float
    surprise: float
    actual: float
    expected: float

    def describe(self) -> str:
        vals = ", ".join(self.values)
        return f"{self.dim}={vals} explains {round(100 * self.explains)} % of the change"


def _surprise(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (a + b)


def adtributor(
    dims: Mapping[str, tuple[Sequence[str], npt.ArrayLike, npt.ArrayLike]],
    min_ep: float = 0.1,
    target_ep: float = 0.67,
    top: int = 3,
    max_share: float = 0.8,
    min_surprise: float = 5e-3,
    min_contrast: float = 2.0,
) -> list[RootCause]:
    """``dims[name] = (labels, actual, expected)`` → up to ``top`` explanations, best first.

    A set that holds ≥ ``max_share`` of the expected traffic, or whose shares barely moved
    (surprise < ``min_surprise``), localises nothing — a change that hits every release alike
    is not "explained by" the releases — and is dropped. So is a set whose relative change is not
    ``min_contrast`` times that of the other values: noise in a short window easily gives one of
    two equal releases 80 % of a uniform change.
    """
    out: list[RootCause] = []
    for dim, (labels, act, exp) in dims.items():
        A_j = np.asarray(act, dtype=np.float64)
        F_j = np.asarray(exp, dtype=np.float64)
        A, F = A_j.sum(), F_j.sum()
        change = A - F
        if A <= 0 or F <= 0 or abs(change) < 1e-9:
            continue
        ep = (A_j - F_j) / change
        s = _surprise(F_j / F, A_j / A)
        chosen: list[int] = []
        total_ep = 0.0
        for j in np.argsort(-s, kind="stable").tolist():
            if ep[j] <= min_ep:
                continue
            chosen.append(j)
            total_ep += float(ep[j])
            if total_ep > target_ep:
                break
        share = float(F_j[chosen].sum() / F) if chosen else 1.0
        if chosen:
            a_set, f_set = float(A_j[chosen].sum()), float(F_j[chosen].sum())
            rel_set = (a_set - f_set) / max(f_set, 1e-9)
            rel_rest = ((A - a_set) - (F - f_set)) / max(F - f_set, 1e-9)
            contrast_ok = abs(rel_set) >= min_contrast * abs(rel_rest)
        else:
            contrast_ok = False
        if (
            chosen
            and total_ep > target_ep
            and share < max_share
            and float(s[chosen].sum()) >= min_surprise
            and contrast_ok
        ):
            out.append(
                RootCause(
                    dim=dim,
                    values=[str(labels[j]) for j in chosen],
                    explains=min(total_ep, 1.0),
                    surprise=float(s[chosen].sum()),
                    actual=float(A_j[chosen].sum()),
                    expected=float(F_j[chosen].sum()),
                )
            )
    # succinct first (Adtributor's Occam criterion: fewer values explaining the same change is the
    # better story), then surprise; noisy small cohorts otherwise win on summed surprise
    out.sort(key=lambda r: (len(r.values), -r.surprise))
    return out[:top]


def cuboid_2d(
    names: tuple[str, str],
    labels: tuple[Sequence[str], Sequence[str]],
    actual: npt.ArrayLike,
    expected: npt.ArrayLike,
    target_ep: float = 0.67,
) -> RootCause | None:
    """Best single cell of a 2-D cube (``actual[i, j]``) when 1-D Adtributor finds nothing:
    the cell with the largest EP whose relative deviation stands out (Squeeze's 2(f−v)/(f+v))."""
    A = np.asarray(actual, dtype=np.float64)
    F = np.asarray(expected, dtype=np.float64)
    change = A.sum() - F.sum()
    if abs(change) < 1e-9:
        return None
    ep = (A - F) / change
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(A + F > 0, 2 * (F - A) / (A + F), 0.0)
    i, j = np.unravel_index(int(np.argmax(ep)), ep.shape)
    if ep[i, j] < 0.5 * target_ep or abs(dev[i, j]) < 0.2:
        return None
    return RootCause(
        dim=f"{names[0]}×{names[1]}",
        values=[f"{labels[0][int(i)]}×{labels[1][int(j)]}"],
        explains=float(min(ep[i, j], 1.0)),
        surprise=float(_surprise(np.array([F[i, j] / F.sum()]), np.array([A[i, j] / A.sum()]))[0]),
        actual=float(A[i, j]),
        expected=float(F[i, j]),
    )


def explain_cube(
    names: Sequence[str],
    labels: Sequence[Sequence[str]],
    actual: npt.ArrayLike,
    expected: npt.ArrayLike,
    min_ep: float = 0.1,
    target_ep: float = 0.67,
) -> list[RootCause]:
    """Adtributor on each axis of an N-D cube; the 2-D pass when no axis explains ``target_ep``."""
    A = np.asarray(actual, dtype=np.float64)
    F = np.asarray(expected, dtype=np.float64)
    dims = {}
    for ax, name in enumerate(names):
        other = tuple(k for k in range(A.ndim) if k != ax)
        dims[name] = (labels[ax], A.sum(axis=other), F.sum(axis=other))
    found = adtributor(dims, min_ep, target_ep)
    # two dimensions each pinned to one value: the cell where they cross is the sharper answer
    singles: dict[str, str] = {}
    for name, (labs, act, exp) in dims.items():
        a_j, f_j = np.asarray(act, np.float64), np.asarray(exp, np.float64)
        ch = a_j.sum() - f_j.sum()
        if abs(ch) > 1e-9:
            j = int(np.argmax((a_j - f_j) / ch))
            if (a_j[j] - f_j[j]) / ch > target_ep:
                singles[name] = str(labs[j])
    if len(singles) >= 2:
        (da, va), (db, vb) = list(singles.items())[:2]
        a, b = list(names).index(da), list(names).index(db)
        other = tuple(k for k in range(A.ndim) if k not in (a, b))
        A2, F2 = A.sum(axis=other), F.sum(axis=other)
        i, j = list(labels[a]).index(va), list(labels[b]).index(vb)
        change = A2.sum() - F2.sum()
        ep = (A2[i, j] - F2[i, j]) / change if abs(change) > 1e-9 else 0.0
        if ep > target_ep:
            cell = RootCause(
                dim=f"{da}×{db}",
                values=[f"{va}×{vb}"],
                explains=float(min(ep, 1.0)),
                surprise=float(sum(rc.surprise for rc in found if rc.dim in (da, db))),
                actual=float(A2[i, j]),
                expected=float(F2[i, j]),
            )
            return [cell] + found
    if found:
        return found
    best: RootCause | None = None
    for a, b in itertools.combinations(range(A.ndim), 2):
        other = tuple(k for k in range(A.ndim) if k not in (a, b))
        rc = cuboid_2d(
            (names[a], names[b]),
            (labels[a], labels[b]),
            A.sum(axis=other),
            F.sum(axis=other),
            target_ep,
        )
        if rc is not None and (best is None or rc.explains > best.explains):
            best = rc
    return [best] if best else []
