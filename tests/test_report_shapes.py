"""Every study shape gets a report (and exports), saying what is missing and which command fills it.

The shapes are the ones a user meets (issue 14): empty; accounts only; posts without targets; targets without
engagements; one group; many groups; no account status; no likes; one week; posts without times -- each with
no analysis run and after running every analysis that accepts it, plus the analyses in different orders on one
study (a report must say when the measures' coordinated and high-risk shares predate the run they read).
Studies are built from Arrow by :func:`shape_study` (below); the analyses are the real ones.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from echoscope import schema as S
from echoscope.errors import EchoscopeError

T0 = dt.datetime(2020, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday


def shape_study(path: Path, *, accounts: bool = True, posts: bool = True, engagements: bool = True,
                targets: bool = True, groups: tuple[str, ...] = ("diplomats", "state media"), status: bool = True,
                likes: bool = True, weeks: int = 4, times: bool = True, n_targets: int = 4) -> Any:
    """A small study of the given shape.

    Targets t0..t{n-1} post one original a week for ``weeks`` weeks; campaign accounts c0..c5 repost every post
    of every target 3-8 s after it (c0..c2 later suspended); organic accounts o0..o19 repost some posts hours
    later and like others. ``times=False`` leaves every ``created_at`` empty.
    """
    import echoscope
    from echoscope.store.targets import add_targets

    study = echoscope.init_study(path)
    when = (lambda d: d) if times else (lambda d: None)
    tables: dict[str, pa.Table] = {}
    acc = [{"platform": "twitter", "account_id": f"t{i}", "handle": f"target{i}", "followers_count": 1000}
           for i in range(n_targets)]
    acc += [{"platform": "twitter", "account_id": f"c{i}", "handle": f"camp{i}", "followers_count": 3,
             "created_at": when(T0 - dt.timedelta(days=20, minutes=i)), "default_profile_image": True}
            for i in range(6)]
    acc += [{"platform": "twitter", "account_id": f"o{i}", "handle": f"person{i}", "followers_count": 100 + i,
             "created_at": when(T0 - dt.timedelta(days=900 + 31 * i))} for i in range(20)]
    if accounts:
        tables["accounts"] = pa.Table.from_pylist(acc, schema=S.ACCOUNTS)
    if posts:
        rows: list[dict[str, Any]] = []
        for t in range(n_targets):
            for w in range(weeks):
                rows.append({"platform": "twitter", "post_id": f"p{t}_{w}", "account_id": f"t{t}",
                             "kind": "original", "created_at": when(T0 + dt.timedelta(weeks=w, hours=t)),
                             "text": f"statement {t} {w}"})
        if engagements:
            n = 0
            for t in range(n_targets):
                for w in range(weeks):
                    base = T0 + dt.timedelta(weeks=w, hours=t)
                    for i in range(6):
                        n += 1
                        rows.append({"platform": "twitter", "post_id": f"r{n}", "account_id": f"c{i}",
                                     "kind": "repost", "ref_post_id": f"p{t}_{w}", "ref_account_id": f"t{t}",
                                     "created_at": when(base + dt.timedelta(seconds=3 + i)), "text": "RT"})
                    for i in range(20):
                        if (i + t + w) % 3 == 0:
                            n += 1
                            rows.append({"platform": "twitter", "post_id": f"r{n}", "account_id": f"o{i}",
                                         "kind": "repost", "ref_post_id": f"p{t}_{w}", "ref_account_id": f"t{t}",
                                         "created_at": when(base + dt.timedelta(hours=2 + i))})
        tables["posts"] = pa.Table.from_pylist(rows, schema=S.POSTS)
        if likes and engagements:
            tables["likes"] = pa.Table.from_pylist(
                [{"platform": "twitter", "account_id": f"o{i}", "post_id": f"p{t}_{w}",
                  "created_at": when(T0 + dt.timedelta(weeks=w, hours=t, minutes=30 + i))}
                 for t in range(n_targets) for w in range(weeks) for i in range(20) if (i + t + w) % 3 == 1],
                schema=S.LIKES)
    if status and accounts:
        st = [{"platform": "twitter", "account_id": f"c{i}", "status": "suspended" if i < 3 else "active",
               "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)} for i in range(6)]
        st += [{"platform": "twitter", "account_id": f"o{i}", "status": "active",
                "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)} for i in range(10)]
        tables["account_status"] = pa.Table.from_pylist(st, schema=S.ACCOUNT_STATUS)
    if tables:
        study.load_arrow(tables)
    if targets:
        add_targets(study, [(f"t{i}", f"target{i}", groups[i % len(groups)], "government" if i == 0 else None)
                            for i in range(n_targets)])
    return study


#: analysis name -> (runner, command shown in the report)
def _run(study: Any, analysis: str) -> bool:
    """Run one real analysis; False when it refuses the study with a usage error (an EchoscopeError)."""
    try:
        if analysis == "measures":
            from echoscope.measures import measures

            measures(study).write()
        elif analysis == "coordination":
            from echoscope.coordination.api import coordinate

            coordinate(study)
        else:
            from echoscope.accounts.score import score_study

            score_study(study)
    except EchoscopeError:
        return False
    return True


SHAPES: dict[str, dict[str, Any]] = {
    "empty": {"accounts": False, "posts": False, "targets": False},
    "accounts_only": {"posts": False, "targets": False, "status": False},
    "posts_without_targets": {"targets": False},
    "targets_without_engagements": {"engagements": False},
    "one_group": {"groups": ("diplomats",)},
    "many_groups": {"groups": ("a", "b", "c", "d"), "n_targets": 8},
    "no_account_status": {"status": False},
    "no_likes": {"likes": False},
    "one_week": {"weeks": 1},
    "posts_without_times": {"times": False},
}


def _report(cli, study: Any, out: Path) -> str:
    r = cli("report", study.path, "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert "internal error" not in r.stderr
    res = json.loads(r.stdout)
    assert res["findings"]
    return out.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_gets_a_report_and_exports(shape, tmp_path, cli):
    study = shape_study(tmp_path / "s", **SHAPES[shape])
    page = _report(cli, study, tmp_path / "before.html")
    # nothing analysed yet: every analysis is named as missing with the command that fills it
    for cmd in ("echoscope measure", "echoscope coordinate", "echoscope score"):
        assert cmd in page, (shape, cmd)
    for analysis in ("measures", "coordination", "accounts"):
        _run(study, analysis)
    page = _report(cli, study, tmp_path / "after.html")
    assert "<section id=\"summary\">" in page
    r = cli("export", study.path, "--to", "json,csv,gexf", "-o", tmp_path / "exp", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads((tmp_path / "exp" / "summary.json").read_text(encoding="utf-8"))
    assert summary["findings"] and "missing" in summary


def test_empty_study_says_what_to_do(tmp_path):
    from echoscope.report import build_document, render_report

    study = shape_study(tmp_path / "s", **SHAPES["empty"])
    render_report(study, tmp_path / "r.html")                     # failed: UndefinedError 'weekly_all'
    doc = build_document(study)
    commands = " ".join(m["command"] for m in doc["missing"])
    # no data: ingest; no targets: name them; then the three analyses
    assert "echoscope ingest" in commands and "echoscope targets add" in commands
    assert "echoscope measure" in commands
    assert doc["targets"] == [] and doc["overall"] == {}


def test_one_group_report(tmp_path):
    from echoscope.report import render_report

    study = shape_study(tmp_path / "s", **SHAPES["one_group"])
    assert _run(study, "measures")
    res = render_report(study, tmp_path / "r.html")                # failed: UndefinedError 'weekly_groups'
    assert "weekly_all" in res["charts"] and "weekly_groups" not in res["charts"]


@pytest.mark.parametrize("shape", ["posts_without_targets", "targets_without_engagements"])
def test_no_target_engagement_report(shape, tmp_path):
    from echoscope.report import build_document, render_report

    study = shape_study(tmp_path / "s", **SHAPES[shape])
    res = render_report(study, tmp_path / "r.html")                # failed: UndefinedError 'weekly_all'
    assert res["charts"] == []
    doc = build_document(study)
    if shape == "posts_without_targets":
        assert any("echoscope targets add" in m["command"] for m in doc["missing"])
    else:
        # the targets are named but nobody engaged with them: measure refuses nothing, the report says so
        assert doc["named_targets"]["resolved"] == 4
        assert any("no engagement" in f for f in doc["findings"])


def _clock(monkeypatch) -> None:
    """Give every manifest write its own second, so written_at orders the runs (they are stored to the
    second, and a tiny study's analyses run within one)."""
    import echoscope.store.manifest as M

    tick = itertools.count()
    monkeypatch.setattr(M, "now_iso", lambda: (dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                                                + dt.timedelta(seconds=next(tick))).isoformat(timespec="seconds"))


def test_measures_before_coordination_are_said_to_predate_it(tmp_path, monkeypatch):
    from echoscope.report import build_document

    _clock(monkeypatch)
    study = shape_study(tmp_path / "s")
    assert _run(study, "measures") and _run(study, "coordination")
    doc = build_document(study)
    stale = [m for m in doc["missing"] if m.get("stale")]
    assert len(stale) == 1 and stale[0]["command"].startswith("echoscope measure")
    assert "predate" in stale[0]["what"] and "coordination" in stale[0]["what"]
    text = " ".join(doc["findings"])
    assert "predate" in text
    # rerunning the measures refreshes them: nothing is stale any more
    assert _run(study, "measures")
    doc = build_document(study)
    assert not [m for m in doc["missing"] if m.get("stale")]
    assert "predate" not in " ".join(doc["findings"])


ORDERS = [(), ("measures",), ("coordination",), ("accounts",), ("measures", "coordination"),
          ("coordination", "measures"), ("accounts", "measures"), ("measures", "accounts", "coordination"),
          ("coordination", "accounts", "measures")]


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(o) or "none")
def test_analyses_in_any_order(order, tmp_path, monkeypatch):
    from echoscope.report import build_document, render_report

    _clock(monkeypatch)
    study = shape_study(tmp_path / "s", groups=("a", "b", "c"), n_targets=6)
    for a in order:
        assert _run(study, a), a
    render_report(study, tmp_path / "r.html")
    doc = build_document(study)
    ran = {s["stage"] for s in doc["stages"] if s["status"] != "not run"}
    assert ran == set(order)
    # an analysis not run is named with its command (others may be named too: stale or older columns)
    commands = {m["command"].split(" STUDY")[0] for m in doc["missing"] if m["what"].endswith("not run")}
    for analysis, cmd in (("measures", "echoscope measure"), ("coordination", "echoscope coordinate"),
                          ("accounts", "echoscope score")):
        assert (cmd in commands) == (analysis not in order), (analysis, commands)
    if "measures" in order:
        # a measures run that came before coordination or scoring is said to predate it
        i = order.index("measures")
        stale = any(a in order[i + 1:] for a in ("coordination", "accounts"))
        assert stale == any(m.get("stale") for m in doc["missing"])
        assert len(doc["targets"]) == 6
    else:
        assert doc["targets"] == []                                # no per-target numbers of the report's own
