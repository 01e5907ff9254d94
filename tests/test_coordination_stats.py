"""The run's small statistics against their definitions: the Poisson tail against scipy.stats, and the
vectorised combination of the held-out folds against the account-by-account rule it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from echoscope.coordination.stats import benjamini_hochberg, poisson_sf
from echoscope.coordination.validation import _combine_folds, _FoldTest


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 400), st.floats(1e-12, 500.0)), min_size=1, max_size=30))
def test_poisson_sf_is_scipy_poisson_tail(cases):
    k = np.array([c[0] for c in cases], dtype=float)
    lam = np.array([c[1] for c in cases])
    want = np.asarray(poisson.sf(k - 1, lam), dtype=float)
    np.testing.assert_allclose(poisson_sf(k, lam), want, rtol=1e-12, atol=0)


def test_poisson_sf_edges():
    assert poisson_sf(np.array([0.0, -1.0]), np.array([0.0, 2.0])).tolist() == [1.0, 1.0]
    assert poisson_sf(np.array([1.0]), np.array([0.0])).tolist() == [0.0]
    assert np.isnan(poisson_sf(np.array([np.nan]), np.array([1.0]))[0])


def _combine_reference(tests, alpha, min_lift=1.0):
    """The account-by-account rule (steps 3-5 of validate_accounts) as first written."""
    names = sorted(set().union(*(t.tested for t in tests)))
    pv = np.ones(len(names))
    for i, n in enumerate(names):
        mine = [t.own.get(n, (0.0, 0.0)) for t in tests if n in t.group]
        if mine:
            w = sum(x[0] for x in mine)
            lam = max(sum(x[1] for x in mine), 1e-9)
            if w > 0 and w >= min_lift * lam:
                pv[i] = float(poisson.sf(w - 1, lam))
        else:
            pv[i] = min(1.0, len(tests) * min(t.best.get(n, (1.0, -1))[0] for t in tests))
    ok = {n for n, k in zip(names, benjamini_hochberg(pv, alpha)) if k}
    keep = set()
    reports = []
    for t in tests:
        counts = {}
        for n in ok:
            if n in t.group:
                counts[t.group[n]] = counts.get(t.group[n], 0) + 1
        for n in ok:
            g_, need = (t.group[n], 2) if n in t.group else (t.best.get(n, (1.0, -1))[1], 1)
            if g_ >= 0 and counts.get(g_, 0) >= need:
                keep.add(n)
        reports.append(sum(1 for c in counts.values() if c >= 2))
    kept = [sum(1 for n in keep if n in t.group or n in t.best) for t in tests]
    return keep, reports, kept


@st.composite
def _folds(draw):
    n = draw(st.integers(1, 40))
    accounts = [f"a{i:02d}" for i in range(n)]
    tests = []
    for _ in range(draw(st.integers(1, 3))):
        tested = sorted(draw(st.sets(st.sampled_from(accounts), min_size=0, max_size=n)))
        grouped = draw(st.sets(st.sampled_from(accounts), max_size=n))  # some grouped accounts are not tested
        group = {a: draw(st.integers(0, 4)) for a in sorted(grouped)}
        own = {a: (float(draw(st.integers(0, 30))), draw(st.floats(0.0, 8.0))) for a in sorted(grouped)
               if draw(st.booleans())}
        best = {a: (draw(st.floats(1e-7, 1.5)), draw(st.integers(-1, 4))) for a in tested
                if a not in group and draw(st.booleans())}
        tests.append(_FoldTest({}, tested, group, own, best))
    return tests, draw(st.sampled_from([0.01, 0.05, 0.5])), draw(st.sampled_from([1.0, 1.5]))


@settings(max_examples=300, deadline=None)
@given(_folds())
def test_combine_folds_is_the_account_by_account_rule(case):
    tests, alpha, lift = case
    keep, reports, kept = _combine_reference(tests, alpha, lift)
    assert _combine_folds(tests, alpha, lift) == keep
    assert [t.fold["coordinated_groups"] for t in tests] == reports
    assert [t.fold["accounts_kept"] for t in tests] == kept


def test_combine_folds_on_integer_numbers():
    """A run's folds carry arrays of account numbers, not lists of strings."""
    tested = np.arange(10, dtype=np.int32)
    t = _FoldTest({}, tested, {1: 0, 2: 0, 3: 1}, {1: (12.0, 1.0), 2: (15.0, 1.0), 3: (20.0, 1.0)}, {5: (1e-9, 0)})
    assert _combine_folds([t], 0.01) == {1, 2, 5}
    assert t.fold == {"coordinated_groups": 1, "accounts_kept": 3}
