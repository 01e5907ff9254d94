"""Every study shape a user can make gets through every command: no internal error, ever.

A property-based test (hypothesis) builds studies of the shapes users meet -- empty; accounts only; posts
without targets; targets without engagements; one group or many; no account status; no likes; one week;
posts without times; analyses run or not, in any order -- and runs measure, coordinate, score, report,
export and info on each through the command line. Each must exit 0, or 2 with one line saying why when the
request itself is impossible (e.g. measuring a study that has no targets). The report must say which
analyses are missing and the command that fills each.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import echoscope
from echoscope import schema as S

T0 = dt.datetime(2020, 6, 1, 9, 0, tzinfo=dt.timezone.utc)

#: what the report must name for an analysis that did not run (echoscope.engine.analysis.ANALYSIS_COMMANDS)
COMMANDS = {"measure": "echoscope measure", "coordinate": "echoscope coordinate", "score": "echoscope score"}


@st.composite
def shapes(draw: st.DrawFn) -> dict:
    """One study shape: which tables exist and how they look, and which analyses run in which order."""
    n_accounts = draw(st.sampled_from([0, 1, 12, 40]))
    has_posts = draw(st.booleans()) and n_accounts > 0
    return {
        "accounts": n_accounts,
        "profiles": draw(st.booleans()),  # account profiles ingested (else posts only)
        "posts": has_posts,
        "engagements": has_posts and draw(st.booleans()),  # reposts/replies of other posts
        "targets": draw(st.sampled_from(["none", "one-group", "many-groups", "unknown-handles", "no-group"])),
        "targets_engaged": draw(st.booleans()),
        "status": draw(st.booleans()),
        "likes": draw(st.booleans()),
        "weeks": draw(st.sampled_from([1, 3])),
        "times": draw(st.sampled_from(["all", "some-missing", "none"])),
        "analyses": draw(st.permutations(["measure", "coordinate", "score"]).flatmap(
            lambda p: st.integers(0, 3).map(lambda k: list(p[:k])))),
    }


def build(path, shape: dict) -> echoscope.Study:
    """Make the study of ``shape`` through the same atomic load every ingest uses."""
    study = echoscope.init_study(path)
    n = shape["accounts"]
    ids = [f"a{i}" for i in range(n)]
    tables: dict[str, pa.Table] = {}
    if n and shape["profiles"]:
        tables["accounts"] = pa.table({
            "account_id": ids, "handle": [f"user{i}" for i in range(n)],
            "created_at": pa.array([T0 - dt.timedelta(days=400 + i) for i in range(n)], S.TS),
            "followers_count": pa.array([i * 3 for i in range(n)], pa.int64()),
            "description": [f"<script>alert({i})</script> bio" for i in range(n)],
        })
    span = dt.timedelta(days=7 * shape["weeks"])

    def when(k: int, total: int) -> dt.datetime | None:
        if shape["times"] == "none" or (shape["times"] == "some-missing" and k % 3 == 0):
            return None
        return T0 + span * (k / max(total, 1))

    if shape["posts"]:
        originals = [(f"p{i}", ids[i % min(n, 4)]) for i in range(8)]  # the first accounts author
        rows = [{"post_id": p, "account_id": a, "kind": "original", "ref_post_id": None,
                 "created_at": when(i, 8), "text": f"post {i} http://example.com/{i}",
                 "urls": [f"http://example.com/{i}"], "hashtags": ["news"]} for i, (p, a) in enumerate(originals)]
        if shape["engagements"]:
            k = 0
            for j, acc in enumerate(ids):
                for p, author in originals[: 1 + j % 5]:
                    if acc == author:
                        continue
                    t = when(k, 200)
                    rows.append({"post_id": f"r{j}-{p}", "account_id": acc,
                                 "kind": "repost" if k % 4 else "reply", "ref_post_id": p,
                                 "created_at": t + dt.timedelta(seconds=5 + j) if t else None,
                                 "text": "same words everyone copies here" if k % 4 == 0 else None,
                                 "urls": [], "hashtags": []})
                    k += 1
        tables["posts"] = pa.Table.from_pylist(rows)
        if shape["likes"] and shape["engagements"]:
            tables["likes"] = pa.table({"account_id": ids[1:], "post_id": ["p0"] * (n - 1),
                                        "created_at": pa.array([T0 + dt.timedelta(minutes=i) for i in range(n - 1)],
                                                               S.TS)})
    if shape["status"] and n:
        tables["account_status"] = pa.table({
            "account_id": ids, "status": ["suspended" if i % 5 == 0 else "active" for i in range(n)],
            "checked_at": pa.array([T0 + dt.timedelta(days=90)] * n, S.TS)})
    if tables:
        study.load_arrow(tables, name="shape")
    t = shape["targets"]
    if t != "none":
        from echoscope.store.targets import add_targets

        engaged = shape["targets_engaged"] and shape["posts"]
        if t == "unknown-handles":
            items = [(None, "nobody_here", "diplomats", None), (None, "ghost", "state media", None)]
        else:
            who = ids[:3] if engaged else [f"silent{i}" for i in range(3)]
            groups = {"one-group": ["diplomats"] * 3, "many-groups": ["diplomats", "state media", "media"],
                      "no-group": [None] * 3}[t]
            items = [(a, None, g, None) for a, g in zip(who, groups)]
        add_targets(study, items)
    return study


def ok_or_usage(res, what: str) -> None:
    """Exit 0, or 2 with one line on stderr; never an internal error (exit 70) or a traceback."""
    assert "internal error" not in res.stderr, f"{what}: {res.stderr}"
    assert "Traceback" not in res.stderr, f"{what}: {res.stderr}"
    assert res.exit_code in (0, 2), f"{what}: exit {res.exit_code}: {res.stderr}{res.stdout[-500:]}"
    if res.exit_code == 2:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), f"{what}: {res.stderr}"


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(shape=shapes())
def test_every_study_shape_gets_through_every_command(tmp_path_factory, cli, shape):
    base = tmp_path_factory.mktemp("shape")
    study = build(base / "s", shape)
    ran: set[str] = set()
    for step in shape["analyses"]:
        args = {"measure": ["measure", study.path, "--json"], "coordinate": ["coordinate", study.path, "--json"],
                "score": ["score", study.path, "--json"]}[step]
        res = cli(*args)
        ok_or_usage(res, f"{step} on {shape}")
        if res.exit_code == 0:
            json.loads(res.stdout)  # --json is one JSON document
            ran.add(step)
    res = cli("info", study.path, "--json")
    ok_or_usage(res, f"info on {shape}")
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert info["reconciled"] is True
    out = base / "report.html"
    res = cli("report", study.path, "-o", out)
    ok_or_usage(res, f"report on {shape}")
    assert res.exit_code == 0, f"a report is always possible: {res.stderr}"
    html = out.read_text()
    assert "<script>alert(" not in html  # hostile bios stay inert
    for step, command in COMMANDS.items():
        if step not in ran:
            assert command in html, f"the report must say '{command}' fills what is missing ({shape})"
    res = cli("export", study.path, "--to", "csv,gexf", "-o", base / "exports")
    ok_or_usage(res, f"export on {shape}")
    assert res.exit_code == 0, f"an export is always possible: {res.stderr}"
