"""Amplification measures: engine-neutral Ibis expressions, plus a hand-written DuckDB plan for speed.

Why the module is shaped so: every number is defined once as an Ibis expression over the study's
``engagements``, ``targets``, ``posts`` and ``account_status`` (plus the optional result tables
``coord_members`` and ``account_scores``) in :func:`summary`. Spark runs those expressions (materialising
intermediates); they are also the reference the DuckDB path is tested against (tests/test_measures_spark.py
compares the two engines row by row).

DuckDB runs :func:`run_duckdb` instead, a sequence of SQL statements producing the same tables, because the
Ibis plan could not be made fast: it expands every (target, week, amplifier) row into six scope keys and ranks
amplifiers with a window over all of them, and on 10 million engagements that reduction is barely smaller than
the input (power-law activity: ~9.8M distinct (target, week, amplifier) rows), so the plan spent minutes in
spilling windows. The SQL plan instead

* numbers every engaging account in ``actor_id`` order once (``_am_ad``, with its latest status class and
  flags), so everything after the read groups, sorts and joins integers, and ranks that break ties by
  ``actor_id`` break them by that number; strings come back only for the output rows;
* reads the targets' engagements once into a slim table with integer target / group / week / amplifier keys
  (weeks from epoch arithmetic: ``date_trunc('week', TIMESTAMPTZ)`` goes through ICU and cost more than the
  join), a kind code, the latency, the status class and, on rapid rows, the subject post's number; the read is
  the ``engagements`` view's definition applied to the targets only (:func:`_read_sql`): the subject-post
  join is made against the targets' posts (built on that small side: DuckDB would build it on the engagements),
  with a small fallback for references outside them (:func:`_fix_latency`);
* computes every sum that needs no amplifier level (kinds, latency bands, status-class shares, status-check
  range, mean) per (target, week) and rolls those up to the six scopes with ``GROUPING SETS``; exact
  ``quantile_cont`` latency quantiles over the rows only for the target scopes, and for the group and study
  scopes (millions of values each) from counts of distinct latency values (:func:`_quantiles_from_counts`,
  bit-identical);
* runs the rapid-fire window only over amplifiers with at least ``rapid_min_posts`` rapid engagements, ordered
  by time alone, reading engagement ids (the tie-breaker) only for an amplifier's second holding both a rapid
  and a non-rapid engagement; this chain runs on a second cursor while the aggregations run on the first
  (its window is mostly single-threaded);
* per scope type, reduces to (scope key, amplifier) counts and streams them into a grouping-sets aggregate
  giving the number of amplifiers and the histogram of per-amplifier counts; top-k share, Gini and the Lorenz
  curve are exact functions of that small histogram (ties do not change them), and super-spreaders are ranked
  only among amplifiers at or above the m-th largest count read off it.

DuckDB-specific pieces (GROUPING SETS with ``GROUPING()``, ``quantile_cont`` with a list, ``SEMI JOIN``, ``*
EXCLUDE``) are why this is SQL and not Ibis. Results are cast to the Ibis expressions' schemas, so both
engines return identically typed tables.

Determinism across engines: ranks break ties by ``actor_id``; sums are integer sums; every ratio is formed
from integer sums the same way on both engines; null ordering is never relied on (the final sort happens in
Arrow).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

#: engagement kinds counted apart (columns ``reposts``, ``quotes``, ``replies``, ``likes``)
KIND_COLUMNS: dict[str, str] = {"repost": "reposts", "quote": "quotes", "reply": "replies", "like": "likes"}

#: statuses that make an amplifier "later suspended" (deleted accounts are counted with suspended ones)
SUSPENDED_STATUSES: tuple[str, ...] = ("suspended", "deleted")

#: latency bands reported as ``share_within_<name>``: name -> seconds
LATENCY_BANDS: dict[str, int] = {"10s": 10, "60s": 60, "5min": 300}

#: latency quantiles reported as ``latency_p<NN>`` (seconds)
LATENCY_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)

#: columns of ``coord_members`` that, when present and boolean, say a member's cluster was judged coordinated
COORD_FLAG_COLUMNS: tuple[str, ...] = ("coordinated", "flagged", "significant")

#: columns of ``account_scores`` that, when present and boolean, mark a high-risk account
RISK_FLAG_COLUMNS: tuple[str, ...] = ("high_risk", "flagged")

SCOPES: tuple[str, ...] = ("study", "group", "target")

_SEP = "\x1f"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Params:
    """Parameters of one measurement run (see docs/measures.md for each one's meaning and cost)."""

    group: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    top: float = 0.01
    rapid_latency_s: float = 10.0
    rapid_min_posts: int = 3
    risk_threshold: float = 0.7
    lorenz_points: int = 100
    extra: dict[str, Any] = field(default_factory=dict)

    def as_meta(self) -> dict[str, Any]:
        return {"group": self.group, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "top": self.top,
                "rapid_latency_s": self.rapid_latency_s, "rapid_min_posts": self.rapid_min_posts,
                "risk_threshold": self.risk_threshold, "lorenz_points": self.lorenz_points}


def _ts(d: dt.date) -> ir.Scalar:
    return ibis.literal(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc))


def _in_period(t: ir.Table, col: str, p: Params) -> ir.Table:
    if p.since is not None:
        t = t.filter(t[col] >= _ts(p.since))
    if p.until is not None:
        t = t.filter(t[col] < _ts(p.until + dt.timedelta(days=1)))
    return t


def _int(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``cond`` holds, else 0 (null counts as false)."""
    return ibis.ifelse(cond.fill_null(False), 1, 0).cast("int64")


def _null(typ: str) -> ir.Value:
    return ibis.null().cast(typ)


def _week(ts: ir.TimestampValue) -> ir.DateValue:
    return ts.truncate("W").date()


def _key(t: ir.Table, with_week: bool = True) -> ir.StringValue:
    parts = [t.scope, t.target.fill_null(""), t.group.fill_null("")]
    if with_week:
        parts.append(t.week.cast("string").fill_null(""))
    out = parts[0]
    for p in parts[1:]:
        out = out.concat(_SEP, p)
    return out


def targets(con: Any, p: Params) -> ir.Table:
    """One row per target account: account_id, handle, group, label (a target named twice counts once)."""
    t = con.table("targets")
    t = t.filter(t.account_id.notnull())
    if p.group is not None:
        t = t.filter(t.group == p.group)
    return t.group_by("account_id").aggregate(handle=t.handle.max(), group=t.group.min(), label=t.label.max())


def latest_status(con: Any) -> ir.Table:
    """Latest status check per account (ties on ``checked_at`` broken by status name, alphabetically)."""
    s = con.table("account_status")
    when = s.checked_at.fill_null(ibis.literal(_EPOCH))
    rn = ibis.row_number().over(group_by=s.account_id, order_by=[ibis.desc(when), s.status])
    s = s.mutate(_rn=rn)
    return s.filter(s._rn == 0).select(status_account=s.account_id, status=s.status, checked_at=s.checked_at)


def coordinated_accounts(con: Any) -> ir.Table | None:
    """Accounts in coordinated clusters (``coord_members``), or None when that result does not exist."""
    if "coord_members" not in con.list_tables():
        return None
    c = con.table("coord_members")
    if "account_id" not in c.columns:
        return None
    for col in COORD_FLAG_COLUMNS:
        if col in c.columns and c[col].type().is_boolean():
            c = c.filter(c[col].fill_null(False))
            break
    return c.select(coord_account=c.account_id).distinct()


def high_risk_accounts(con: Any, p: Params) -> ir.Table | None:
    """High-risk accounts (``account_scores``), or None when that result does not exist."""
    if "account_scores" not in con.list_tables():
        return None
    s = con.table("account_scores")
    if "account_id" not in s.columns:
        return None
    flag = next((c for c in RISK_FLAG_COLUMNS if c in s.columns and s[c].type().is_boolean()), None)
    if flag is not None:
        s = s.filter(s[flag].fill_null(False))
    elif "score" in s.columns:
        s = s.filter(s.score >= p.risk_threshold)
    else:
        return None
    return s.select(risk_account=s.account_id).distinct()


def target_engagements(con: Any, p: Params, tg: ir.Table) -> ir.Table:
    """Engagements received by targets in the period, with target, group, week and rapid-fire flags."""
    e = con.table("engagements")
    e = e.join(tg, e.subject_account_id == tg.account_id)
    e = e.select(engagement_id=e.engagement_id, actor_id=e.actor_id, kind=e.kind,
                 subject_post_id=e.subject_post_id, created_at=e.created_at, latency_s=e.latency_s,
                 target=e.account_id, group=e.group)
    e = _in_period(e, "created_at", p)
    known = e.latency_s.notnull() & (e.latency_s >= 0)
    rapid = (known & (e.latency_s <= p.rapid_latency_s) & e.created_at.notnull()).fill_null(False)
    # gaps and islands: a run is a maximal stretch of one amplifier's consecutive rapid engagements
    order = [e.created_at, e.engagement_id]
    brk = ibis.ifelse(rapid, 0, 1).cast("int64")
    run = brk.sum().over(ibis.cumulative_window(group_by=e.actor_id, order_by=order))
    return e.mutate(week=_week(e.created_at), lat_known=known.fill_null(False), rapid=rapid, run=run)


def rapid_sequences(e: ir.Table, p: Params) -> ir.Table:
    """Rapid-fire sequences: runs of one amplifier's consecutive engagements each within ``rapid_latency_s`` of
    its post, covering at least ``rapid_min_posts`` distinct posts."""
    r = e.filter(e.rapid)
    seq = r.group_by(["actor_id", "run"]).aggregate(
        posts=r.subject_post_id.nunique(), engagements=r.count(), targets=r.target.nunique(),
        start=r.created_at.min(), end=r.created_at.max(), max_latency_s=r.latency_s.max())
    return seq.filter(seq.posts >= p.rapid_min_posts)


def _actor_week(e: ir.Table, seq: ir.Table, p: Params) -> ir.Table:
    s = seq.select(seq_actor=seq.actor_id, seq_run=seq.run, in_seq=ibis.literal(True))
    e = e.left_join(s, (e.actor_id == s.seq_actor) & (e.run == s.seq_run))
    e = e.mutate(in_rapid=(e.rapid & e.in_seq.fill_null(False)))
    aggs: dict[str, Any] = {"n": e.count()}
    for kind, col in KIND_COLUMNS.items():
        aggs[f"n_{col}"] = _int(e.kind == kind).sum()
    aggs["n_lat"] = _int(e.lat_known).sum()
    for name, sec in LATENCY_BANDS.items():
        aggs[f"n_{name}"] = _int(e.lat_known & (e.latency_s <= sec)).sum()
    aggs["n_rapid"] = _int(e.in_rapid).sum()
    return e.group_by(["target", "group", "week", "actor_id"]).aggregate(**aggs)


_SUMS = ("n", *(f"n_{c}" for c in KIND_COLUMNS.values()), "n_lat", *(f"n_{b}" for b in LATENCY_BANDS), "n_rapid")
_ATTRS = ("status", "checked_at", "coordinated", "high_risk")


def _scoped(t: ir.Table) -> ir.Table:
    """Every row of a (target, group, week, ...) table once per scope key it belongs to.

    Expanding each row into the six (scope, weekly) combinations keeps the expression small (one unnest instead
    of a union of six copies), which matters for compile time on both engines and for Spark's planner.
    """
    # unnest of a literal array (DuckDB unnest, Spark explode): no in-memory table, which Spark's cached views
    # could not see
    k = ibis.literal(list(range(2 * len(SCOPES))), type="array<int64>").unnest()
    x = t.mutate(_k=k)
    x = x.mutate(_scope=ibis.ifelse(x._k < 2, "study", ibis.ifelse(x._k < 4, "group", "target")),
                 _weekly=(x._k % 2) == 0).drop("_k")
    x = x.filter((~x._weekly | x.week.notnull()) & ((x._scope != "group") | x.group.notnull()))
    return x.mutate(
        scope=x._scope,
        target=ibis.ifelse(x._scope == "target", x.target, _null("string")),
        group=ibis.ifelse(x._scope == "study", _null("string"), x.group),
        week=ibis.ifelse(x._weekly, x.week, _null("date")),
    ).drop("_scope", "_weekly")


def _expand(a: ir.Table, cols: tuple[str, ...], how: str = "sum") -> ir.Table:
    """Roll a (target, group, week, ...) table up to the six scope keys, summing ``cols``; every other column
    (e.g. ``actor_id`` and its attributes) is kept as a grouping key."""
    keep = [c for c in a.columns if c not in cols and c not in ("target", "group", "week")]
    x = _scoped(a)
    g = x.group_by(["scope", "target", "group", "week", *keep]).aggregate(**{c: x[c].sum() for c in cols})
    return g.select("scope", "target", "group", "week", *keep, *cols)


def per_scope_actor(e: ir.Table, seq: ir.Table, con: Any, p: Params, cache: bool = False) -> ir.Table:
    """One row per (scope key, amplifier) with counts, amplifier attributes and the amplifier's rank."""
    a = _actor_week(e, seq, p)
    st = latest_status(con)
    a = a.left_join(st, a.actor_id == st.status_account).drop("status_account")
    coord = coordinated_accounts(con)
    if coord is not None:
        a = a.left_join(coord, a.actor_id == coord.coord_account)
        a = a.mutate(coordinated=a.coord_account.notnull()).drop("coord_account")
    else:
        a = a.mutate(coordinated=_null("boolean"))
    risk = high_risk_accounts(con, p)
    if risk is not None:
        a = a.left_join(risk, a.actor_id == risk.risk_account)
        a = a.mutate(high_risk=a.risk_account.notnull()).drop("risk_account")
    else:
        a = a.mutate(high_risk=_null("boolean"))
    a = a.select("target", "group", "week", "actor_id", *_ATTRS, *_SUMS)
    if cache:
        a = a.cache()
    x = _expand(a, _SUMS, "sum")
    part = [x.scope, x.target, x.group, x.week]
    x = x.mutate(
        rank=ibis.row_number().over(group_by=part, order_by=[ibis.desc(x.n), x.actor_id]) + 1,
        n_amp=x.count().over(group_by=part), n_total=x.n.sum().over(group_by=part))
    return x


def _top_m(amp: ir.IntegerValue, k: float) -> ir.IntegerValue:
    """max(1, ceil(k * amplifiers)); the small epsilon keeps 0.01 * 300 from rounding up to 4."""
    m = (amp * k - 1e-9).ceil().cast("int64")
    return ibis.greatest(m, 1)


def _share(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), _null("float64"))


def summary(con: Any, p: Params, *, cache: bool = False) -> dict[str, ir.Table]:
    """All measures; returns expressions ``summary``, ``superspreaders``, ``lorenz``, ``rapidfire``."""
    tg = targets(con, p)
    e = target_engagements(con, p, tg)
    if cache:
        e = e.cache()
    seq = rapid_sequences(e, p)
    if cache:
        seq = seq.cache()
    x = per_scope_actor(e, seq, con, p, cache=cache)
    if cache:
        x = x.cache()

    susp = x.status.isin(list(SUSPENDED_STATUSES))
    unchecked = x.status.isnull() | (x.status == "unknown")
    aggs: dict[str, Any] = {
        "engagements": x.n.sum(),
        **{col: x[f"n_{col}"].sum() for col in KIND_COLUMNS.values()},
        "amplifiers": x.count(),
        "e_top": ibis.ifelse(x.rank <= _top_m(x.n_amp, p.top), x.n, 0).sum(),
        "e_top1": ibis.ifelse(x.rank <= _top_m(x.n_amp, 0.01), x.n, 0).sum(),
        "sum_ix": ((x.n_amp - x.rank + 1) * x.n).sum(),
        "e_suspended": ibis.ifelse(susp.fill_null(False), x.n, 0).sum(),
        "e_susp_reposts": ibis.ifelse(susp.fill_null(False), x.n_reposts, 0).sum(),
        "e_deleted": ibis.ifelse((x.status == "deleted").fill_null(False), x.n, 0).sum(),
        "e_unchecked": ibis.ifelse(unchecked, x.n, 0).sum(),
        "e_active": ibis.ifelse((x.status == "active").fill_null(False), x.n, 0).sum(),
        "e_protected": ibis.ifelse((x.status == "protected").fill_null(False), x.n, 0).sum(),
        "suspended_amplifiers": _int(susp).sum(),
        "unchecked_amplifiers": _int(unchecked).sum(),
        "status_checked_first": x.checked_at.min(),
        "status_checked_last": x.checked_at.max(),
        "e_coord": ibis.ifelse(x.coordinated, x.n, 0).sum(),
        "e_risk": ibis.ifelse(x.high_risk, x.n, 0).sum(),
        "latency_known": x.n_lat.sum(),
        **{f"e_{b}": x[f"n_{b}"].sum() for b in LATENCY_BANDS},
        "rapid_fire_engagements": x.n_rapid.sum(),
        "rapid_fire_amplifiers": _int(x.n_rapid > 0).sum(),
    }
    agg = x.group_by(["scope", "target", "group", "week"]).aggregate(**aggs)
    agg = agg.mutate(k_agg=_key(agg))
    if cache:
        agg = agg.cache()

    # latency quantiles: the one measure that needs engagement rows per scope
    lat = e.filter(e.lat_known).select("target", "group", "week", lat_one=ibis.literal(1).cast("int64"),
                                       latency_s=e.latency_s)
    lq = _expand_values(lat)
    lq = lq.group_by(["scope", "target", "group", "week"]).aggregate(
        **{f"latency_p{int(round(q * 100)):02d}": lq.latency_s.quantile(q).round(6) for q in LATENCY_QUANTILES},
        latency_mean=lq.latency_s.mean().round(6))
    lq = lq.mutate(k_lat=_key(lq)).drop("scope", "target", "group", "week")
    if cache:
        lq = lq.cache()

    # posts made by the targets
    po = con.table("posts")
    po = po.join(tg, po.account_id == tg.account_id)
    po = _in_period(po.select(created_at=po.created_at, kind=po.kind, target=po.account_id, group=po.group),
                    "created_at", p)
    po = po.mutate(week=_week(po.created_at))
    po = po.group_by(["target", "group", "week"]).aggregate(
        posts=po.count(), posts_original=_int(po.kind == "original").sum())
    po = _expand(po, ("posts", "posts_original"), "sum")
    po = po.mutate(k_posts=_key(po))
    if cache:
        po = po.cache()

    # label coverage (static: the same on every week of a scope)
    lb = tg.select(target=tg.account_id, group=tg.group, week=_null("date"), targets=ibis.literal(1).cast("int64"),
                   labelled_targets=_int(tg.label.notnull()))
    lb = _expand(lb, ("targets", "labelled_targets"), "sum")
    handles = tg.select(h_target=tg.account_id, handle=tg.handle)
    lb = lb.mutate(k_lab=_key(lb, with_week=False)).drop("scope", "target", "group", "week")

    keycols = ["scope", "target", "group", "week"]
    keys = ibis.union(agg.select(*keycols), po.select(*keycols), _expand_keys(tg), distinct=True)
    keys = keys.mutate(key=_key(keys), skey=_key(keys, with_week=False))
    agg = agg.drop(*keycols)
    po = po.drop(*keycols)
    j = keys.left_join(agg, keys.key == agg.k_agg)
    j = j.left_join(po, j.key == po.k_posts)
    j = j.left_join(lq, j.key == lq.k_lat)
    j = j.left_join(lb, j.skey == lb.k_lab)
    j = j.left_join(handles, j.target == handles.h_target)

    z = lambda c: j[c].fill_null(0)
    n = z("engagements")
    amp = z("amplifiers")
    has_coord = coordinated_accounts(con) is not None
    has_risk = high_risk_accounts(con, p) is not None
    out = j.select(
        scope=j.scope, target=j.target, handle=j.handle, group=j.group, week=j.week,
        posts=z("posts"), posts_original=z("posts_original"),
        engagements=n, reposts=z("reposts"), quotes=z("quotes"), replies=z("replies"), likes=z("likes"),
        amplifiers=amp,
        share_suspended=_share(z("e_suspended"), n),
        share_suspended_reposts=_share(z("e_susp_reposts"), z("reposts")),
        share_deleted=_share(z("e_deleted"), n),
        share_active=_share(z("e_active"), n),
        share_protected=_share(z("e_protected"), n),
        share_unchecked=_share(z("e_unchecked"), n),
        suspended_amplifiers=z("suspended_amplifiers"),
        unchecked_amplifiers=z("unchecked_amplifiers"),
        status_checked_first=j.status_checked_first, status_checked_last=j.status_checked_last,
        top_k=ibis.literal(p.top).cast("float64"),
        top_share=_share(z("e_top"), n),
        top1_share=_share(z("e_top1"), n),
        top_amplifiers=ibis.ifelse(amp > 0, _top_m(amp, p.top), 0),
        gini=ibis.ifelse(n > 0, 2.0 * z("sum_ix").cast("float64") / (amp.cast("float64") * n.cast("float64"))
                         - (amp.cast("float64") + 1.0) / amp.cast("float64"), _null("float64")),
        latency_known=z("latency_known"),
        **{f"share_within_{b}": _share(z(f"e_{b}"), z("latency_known")) for b in LATENCY_BANDS},
        **{f"latency_p{int(round(q * 100)):02d}": j[f"latency_p{int(round(q * 100)):02d}"]
           for q in LATENCY_QUANTILES},
        latency_mean=j.latency_mean,
        rapid_fire_engagements=z("rapid_fire_engagements"),
        rapid_fire_amplifiers=z("rapid_fire_amplifiers"),
        share_rapid_fire=_share(z("rapid_fire_engagements"), n),
        share_coordinated=_share(z("e_coord"), n) if has_coord else _null("float64"),
        share_high_risk=_share(z("e_risk"), n) if has_risk else _null("float64"),
        targets=z("targets"), labelled_targets=z("labelled_targets"),
        label_coverage=_share(z("labelled_targets"), z("targets")),
    )

    whole = x.filter(x.week.isnull())
    ss = whole.filter(whole.rank <= _top_m(whole.n_amp, p.top))
    acc = con.table("accounts")
    acc = acc.group_by(acc_id=acc.account_id).aggregate(actor_handle=acc.handle.max())
    ss = ss.left_join(acc, ss.actor_id == acc.acc_id).drop("acc_id")
    ss = ss.select(scope=ss.scope, target=ss.target, group=ss.group, rank=ss.rank.cast("int64"),
                   actor_id=ss.actor_id, actor_handle=ss.actor_handle, engagements=ss.n,
                   share=_share(ss.n, ss.n_total), status=ss.status, checked_at=ss.checked_at,
                   coordinated=ss.coordinated, high_risk=ss.high_risk,
                   share_within_60s=_share(ss.n_60s, ss.n_lat), rapid_fire_engagements=ss.n_rapid)

    lz = whole
    w = ibis.cumulative_window(group_by=[lz.scope, lz.target, lz.group], order_by=[lz.n, ibis.desc(lz.actor_id)])
    lz = lz.mutate(i=(lz.n_amp - lz.rank + 1).cast("int64"), cum=lz.n.sum().over(w))
    pts = p.lorenz_points
    lz = lz.mutate(bucket=((lz.i * pts + lz.n_amp - 1) / lz.n_amp).floor().cast("int64"))
    lz = lz.mutate(last=lz.i.max().over(group_by=[lz.scope, lz.target, lz.group, lz.bucket]))
    lz = lz.filter(lz.i == lz.last)
    lz = lz.select(scope=lz.scope, target=lz.target, group=lz.group, amplifiers_rank=lz.i,
                   population_share=lz.i.cast("float64") / lz.n_amp.cast("float64"),
                   engagement_share=_share(lz.cum, lz.n_total))

    rf = seq.select(actor_id=seq.actor_id, start=seq.start, end=seq.end, posts=seq.posts,
                    engagements=seq.engagements, targets=seq.targets, max_latency_s=seq.max_latency_s)
    return {"summary": out, "superspreaders": ss, "lorenz": lz, "rapidfire": rf}


def _expand_values(t: ir.Table) -> ir.Table:
    """Like :func:`_expand` but without aggregation: every row once per scope key it belongs to."""
    return _scoped(t).select("scope", "target", "group", "week", "latency_s")


def _expand_keys(tg: ir.Table) -> ir.Table:
    """Whole-period keys for every target, its group and the study (so silent targets still get a row)."""
    t = tg.select(scope=ibis.literal("target"), target=tg.account_id, group=tg.group, week=_null("date"))
    g = tg.filter(tg.group.notnull())
    g = g.select(scope=ibis.literal("group"), target=_null("string"), group=g.group, week=_null("date"))
    s = tg.select(scope=ibis.literal("study"), target=_null("string"), group=_null("string"), week=_null("date"))
    return ibis.union(t, g, s, distinct=True)


# ------------------------------------------------------------------------------------------------ DuckDB path
#: the six scope types: name, scope label, key columns of the engagement table (ti target, gi group, wk week)
_SCOPE_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("tw", "target", ("ti", "gi", "wk")),
    ("ta", "target", ("ti", "gi")),
    ("gw", "group", ("gi", "wk")),
    ("ga", "group", ("gi",)),
    ("sw", "study", ("wk",)),
    ("sa", "study", ()),
)

#: status classes stored per engagement row (latest status of its amplifier): code -> statuses
_STATUS_CODES: dict[int, tuple[str, ...]] = {1: ("suspended",), 2: ("deleted",), 3: ("active",), 4: ("protected",)}

_EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _ts_sql(d: dt.date) -> str:
    return f"TIMESTAMPTZ '{d.isoformat()} 00:00:00+00'"


def _period_sql(col: str, p: Params) -> str:
    conds = []
    if p.since is not None:
        conds.append(f"{col} >= {_ts_sql(p.since)}")
    if p.until is not None:
        conds.append(f"{col} < {_ts_sql(p.until + dt.timedelta(days=1))}")
    return " AND ".join(conds) or "TRUE"


def _week_sql(col: str) -> str:
    """Day number (since 1970-01-01) of the ISO Monday of ``col``: integer arithmetic on the epoch instead of
    ``date_trunc('week', TIMESTAMPTZ)``, which goes through ICU calendars and cost ~0.7 s per million rows."""
    day = f"floor(epoch_us({col}) / 86400000000.0)"
    return f"CAST(floor(({day} + 3) / 7) * 7 - 3 AS INTEGER)"


def _read_sql(p: Params, rl: float, *, ids: bool = False, only: str | None = None) -> str:
    """SELECT of the targets' engagements in the period as slim rows: the ``engagements`` view
    (``ENGAGEMENTS_SQL`` in :mod:`echoscope.engine`) restricted to subjects in ``_am_tg``, with the same rows
    (multiplicities included) and values for those subjects, but far cheaper.

    * The view's ``LEFT JOIN posts s`` (the subject post) is made against the targets' posts only
      (``_am_tp``, built once; a few hundred thousand rows instead of every post). Posts are unique by
      (platform, post_id) (``schema.KEYS``, enforced at load), so an engagement matching a target's post
      matches no other post.
    * Likes: the subject is the liked post's author, so only likes of the targets' posts are kept (inner join).
    * Reposts, quotes, replies: the subject ``COALESCE(p.ref_account_id, s.account_id)`` can only be a target when
      ``ref_account_id`` is null or a target (one join with the targets gives both the filter and the target
      key). Without a match among the targets' posts, a row is kept only when ``ref_account_id`` names a target;
      its subject post, if any, is some other account's post (inconsistent data) or absent (a dangling
      reference), so its latency is looked up afterwards in all posts (column ``fb``, :func:`_fix_latency`).

    Columns: integer target / group / week keys, amplifier key ``ai`` (``_am_ad``: actor ids numbered in
    their sort order), kind code, latency, rapid flag, time, the subject post's number in ``_am_tp`` (``pn``,
    rapid rows only), the reference's platform and post id (``fb`` rows only), the amplifier's status class,
    check time and flags. ``ids`` adds ``eid`` (the engagement id) on every row;
    ``only`` names a table of (actor_id, created_at) pairs the read is restricted to.
    """
    lat = "CAST(EXTRACT(EPOCH FROM {a}.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE)"
    semi = (lambda a: f"SEMI JOIN {only} o ON o.actor_id = {a}.account_id AND o.created_at = {a}.created_at"
            ) if only else (lambda a: "")
    eid_p, eid_l = (", p.post_id AS eid", ", l.account_id || ':' || l.post_id AS eid") if ids else ("", "")
    kind_case = " ".join(f"WHEN {_lit(k)} THEN {i}" for i, k in enumerate(KIND_COLUMNS, start=1))
    rapid = f"coalesce(e.latency_s >= 0 AND e.latency_s <= {rl!r} AND e.created_at IS NOT NULL, false)"
    return f"""
        SELECT e.ti, e.gi, {_week_sql('e.created_at')} AS wk, e.ai,
               CAST(CASE e.kind {kind_case} ELSE 0 END AS TINYINT) AS k,
               CASE WHEN e.latency_s >= 0 THEN e.latency_s END AS lat,
               {rapid} AS rapid, e.created_at,
               CASE WHEN {rapid} THEN e.pn END AS pn, CASE WHEN e.fb THEN e.spid END AS spid,
               e.fb, CASE WHEN e.fb THEN e.platform END AS plat,
               CAST(coalesce(e.sc, 5) AS TINYINT) AS sc, e.checked_at,
               coalesce(e.coord, false) AS coord, coalesce(e.risk, false) AS risk{', e.eid' if ids else ''}
        FROM (
          SELECT coalesce(p.rti, s.ti) AS ti, CASE WHEN p.rti IS NOT NULL THEN p.rgi ELSE s.gi END AS gi,
                 p.ai, p.sc, p.checked_at, p.coord, p.risk,
                 p.kind, p.ref_post_id AS spid, p.created_at, {lat.format(a='p')} AS latency_s,
                 s.ti IS NULL AS fb, p.platform, s.pn{eid_p}
          FROM (SELECT p.platform, p.post_id, d.ai, d.sc, d.checked_at, d.coord, d.risk, p.kind, p.ref_post_id,
                       p.created_at, tg.ti AS rti, tg.gi AS rgi
                FROM posts p {semi('p')}
                LEFT JOIN _am_tg tg ON tg.account_id = p.ref_account_id
                LEFT JOIN _am_ad d ON d.actor_id = p.account_id
                WHERE p.kind IN ('repost', 'reply', 'quote') AND (p.ref_account_id IS NULL OR tg.ti IS NOT NULL)
                  AND {_period_sql('p.created_at', p)}) p
          LEFT JOIN _am_tp s ON s.platform = p.platform AND s.post_id = p.ref_post_id
          WHERE s.ti IS NOT NULL OR p.rti IS NOT NULL
          UNION ALL
          SELECT s.ti, s.gi, d.ai, d.sc, d.checked_at, d.coord, d.risk,
                 'like' AS kind, l.post_id AS spid, l.created_at,
                 {lat.format(a='l')} AS latency_s, false AS fb, NULL AS platform, s.pn{eid_l}
          FROM likes l {semi('l')} JOIN _am_tp s ON s.platform = l.platform AND s.post_id = l.post_id
          LEFT JOIN _am_ad d ON d.actor_id = l.account_id
          WHERE {_period_sql('l.created_at', p)}) e"""


@contextlib.contextmanager
def _written_join_sides(sql: Any) -> Iterator[None]:
    """Build every hash join of a statement on its right (written) side.

    DuckDB's cardinality estimates for a filtered Parquet scan are low, so it would build the hash table of the
    read's subject-post join on the engagements (millions of rows with their strings) and probe it with the
    targets' posts; building on the targets' posts, as written, is the cheap side (at 3M engagements the join
    took 1.9 s the other way round).
    """
    old = sql("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    new = ",".join(x for x in (old, "build_side_probe_side") if x)
    sql(f"SET disabled_optimizers = {_lit(new)}")
    try:
        yield
    finally:
        sql(f"SET disabled_optimizers = {_lit(old)}" if old else "RESET disabled_optimizers")


class _Background:
    """``fn(*args)`` in a thread; :meth:`join` waits and re-raises its error (DuckDB releases the GIL)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        import threading

        self.error: BaseException | None = None

        def run() -> None:
            try:
                fn(*args)
            except BaseException as e:
                self.error = e

        self.thread = threading.Thread(target=run, name="echoscope-measures-rapid", daemon=True)
        self.thread.start()

    def join(self, raise_error: bool = True) -> None:
        self.thread.join()
        if raise_error and self.error is not None:
            raise self.error


def _fix_latency(sql: Any, table: str, rl: float, temp: Any) -> None:
    """Latency of the ``fb`` rows of ``table`` (see :func:`_read_sql`) from all posts, the view's left join
    for references that are no target's post; a no-op (one count) when there are none."""
    if not sql(f"SELECT count(*) FROM {table} WHERE fb").fetchone()[0]:
        return
    temp("_am_fbx", f"""
        SELECT e.rowid AS rid, n.pn,
               CAST(EXTRACT(EPOCH FROM e.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
        FROM {table} e LEFT JOIN posts s ON s.platform = e.plat AND s.post_id = e.spid
        LEFT JOIN (SELECT DISTINCT post_id, pn FROM _am_tp) n ON n.post_id = e.spid
        WHERE e.fb""")
    rapid = f"coalesce(f.latency_s >= 0 AND f.latency_s <= {rl!r} AND t.created_at IS NOT NULL, false)"
    sql(f"""
        UPDATE {table} t SET lat = CASE WHEN f.latency_s >= 0 THEN f.latency_s END, rapid = {rapid},
               pn = CASE WHEN {rapid} THEN f.pn END, spid = CASE WHEN {rapid} AND f.pn IS NULL THEN t.spid END,
               fb = false, plat = NULL
        FROM _am_fbx f WHERE t.rowid = f.rid""")


def _quantiles_from_counts(lv: Any, qs: tuple[float, ...], names: list[str]) -> Any:
    """``quantile_cont`` of every scope from its counts of distinct values, exactly as DuckDB computes it.

    ``lv`` (Arrow) holds one row per (scope key sk/gi/wk, value lat) with count ``c``, sorted by key then value.
    For N values, DuckDB's ``quantile_cont`` takes RN = (N - 1) * q, the order statistics lo, hi at floor(RN)
    and ceil(RN) (0-based) and returns lo * (1 - d) + hi * d with d = RN - floor(RN) (lo when RN is whole; this
    form, not lo + (hi - lo) * d, is the one that matches DuckDB to the last bit); the i-th order
    statistic is the first value whose cumulative count exceeds i. The same float64 operations in numpy give
    bit-identical results. Vectorised over the few-million-row table of distinct values (not engagement rows),
    one cumulative sum and one binary search per quantile.
    """
    import numpy as np
    import pyarrow as pa

    c = lv.column("c").to_numpy()
    lat = lv.column("lat").to_numpy()
    keys = [lv.column(k) for k in ("sk", "gi", "wk")]
    if len(c) == 0:
        return pa.table({"sk": pa.array([], pa.int8()), "gi": pa.array([], pa.int32()),
                         "wk": pa.array([], pa.int32()), **{n: pa.array([], pa.float64()) for n in names}})
    # partition starts: rows where any key differs from the previous row (nulls compared as values)
    start = np.zeros(len(c), dtype=bool)
    start[0] = True
    for k in keys:
        v = k.fill_null(-2**31 if k.type != pa.int8() else -128).to_numpy()
        start[1:] |= v[1:] != v[:-1]
    first = np.flatnonzero(start)
    cum = np.cumsum(c)
    before = np.concatenate(([0], cum[first[1:] - 1]))  # values of earlier partitions
    n = np.append(before[1:], cum[-1]) - before
    out = {name: k.take(pa.array(first)) for name, k in zip(("sk", "gi", "wk"), keys)}
    for q, name in zip(qs, names):
        rn = (n - 1).astype(np.float64) * float(q)
        lo_i, hi_i = np.floor(rn), np.ceil(rn)
        d = rn - lo_i
        lo = lat[np.searchsorted(cum, before + lo_i.astype(np.int64), side="right")]
        hi = lat[np.searchsorted(cum, before + hi_i.astype(np.int64), side="right")]
        out[name] = pa.array(np.where(lo_i == hi_i, lo, lo * (1.0 - d) + hi * d), pa.float64())
    return pa.table(out)


def _flag_sql(con: Any, table: str, flags: tuple[str, ...], p: Params | None) -> str | None:
    """SELECT of flagged account ids of an optional result table (same rules as the Ibis functions)."""
    if table not in con.list_tables():
        return None
    t = con.table(table)
    if "account_id" not in t.columns:
        return None
    flag = next((c for c in flags if c in t.columns and t[c].type().is_boolean()), None)
    if flag is not None:
        return f'SELECT DISTINCT account_id FROM "{table}" WHERE coalesce("{flag}", false)'
    if p is None:
        return f'SELECT DISTINCT account_id FROM "{table}"'
    if "score" in t.columns:
        return f'SELECT DISTINCT account_id FROM "{table}" WHERE score >= {float(p.risk_threshold)!r}'
    return None


#: drops grouping-set rows that are no scope: weekly rows of engagements without a time, group rows of targets
#: without a group
_HAVING_RAW = ("HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL) "
               "AND NOT (GROUPING(ti) = 1 AND GROUPING(gi) = 0 AND gi IS NULL)")
_SETS = "GROUPING SETS ((ti, gi, wk), (ti, gi), (gi, wk), (gi), (wk), ())"
_SCOPE_LABEL = "CASE WHEN GROUPING(ti) = 0 THEN 'target' WHEN GROUPING(gi) = 0 THEN 'group' ELSE 'study' END"


def _top_m_sql(amp: str, k: float) -> str:
    """SQL of :func:`_top_m`: max(1, ceil(k * amplifiers)) with the same epsilon."""
    return f"greatest(CAST(ceil({amp} * {float(k)!r} - 1e-9) AS BIGINT), 1)"


def run_duckdb(con: Any, p: Params, schemas: dict[str, Any]) -> dict[str, Any]:
    """All measures on DuckDB with hand-written SQL (same definitions as :func:`summary`); returns Arrow tables
    cast to the schemas of the Ibis expressions, so both paths give identically typed tables.

    Plan (see the module docstring for why): (1) an amplifier dictionary (actor id -> integer in actor id order,
    with status class and flags) and the targets' posts; (2) one pass over the targets' engagements writes a
    slim table (integer target / group / week / amplifier keys, kind code, latency, status class; subject post
    numbers only on rapid rows); (3) on a second cursor, the rapid-fire window over amplifiers with enough rapid
    engagements, ordered by time (engagement ids read only for mixed ties); meanwhile (4) the sums that need no
    amplifier level per (target, week), rolled up to the six scopes, the exact latency quantiles
    (``quantile_cont`` over the rows for target scopes, counts of distinct values for group and study scopes)
    and (5) per scope kind, a hash aggregation to (scope key, amplifier) counts streaming into a grouping-sets
    aggregate giving the number of amplifiers and the histogram of per-amplifier counts, from which top-k share,
    Gini, Lorenz points and super-spreader thresholds follow.

    Intermediate tables are plain tables of the connection's in-memory database (the second cursor cannot see
    TEMP tables), named ``_am_*`` and dropped at the end.
    """
    raw = con.con
    sql = raw.execute
    has_coord = (coord_sql := _flag_sql(con, "coord_members", COORD_FLAG_COLUMNS, None)) is not None
    has_risk = (risk_sql := _flag_sql(con, "account_scores", RISK_FLAG_COLUMNS, p)) is not None
    grp_filter = f'AND "group" = {_lit(p.group)}' if p.group is not None else ""
    temps: list[str] = []

    def temp_on(execute: Any) -> Any:
        # plain tables of the connection's in-memory database (not TEMP: those would be invisible to the second
        # cursor the rapid-fire chain runs on); dropped at the end
        def temp(name: str, body: str) -> None:
            execute(f"CREATE OR REPLACE TABLE {name} AS {body}")
            temps.append(name)
        return temp

    temp = temp_on(sql)
    chain: _Background | None = None
    cur: Any = None

    try:
        temp("_am_tg", f"""
            SELECT account_id, handle, grp, label, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS ti,
                   CAST(CASE WHEN grp IS NOT NULL THEN dense_rank() OVER (ORDER BY grp) END AS INTEGER) AS gi
            FROM (SELECT account_id, max(handle) AS handle, min("group") AS grp, max(label) AS label
                  FROM targets WHERE account_id IS NOT NULL {grp_filter} GROUP BY account_id)""")
        status_case = " ".join(f"WHEN status IN ({', '.join(map(_lit, v))}) THEN {k}"
                               for k, v in _STATUS_CODES.items())
        temp("_am_st", f"""
            SELECT account_id, status, checked_at,
                   CAST(CASE {status_case} WHEN status IS NULL OR status = 'unknown' THEN 5 ELSE 0 END
                        AS TINYINT) AS sc
            FROM (SELECT account_id, status, checked_at,
                         row_number() OVER (PARTITION BY account_id
                                            ORDER BY coalesce(checked_at, {_EPOCH_SQL}) DESC, status) AS rn
                  FROM account_status) WHERE rn = 1""")
        # the targets' posts (subject posts of the read) and the amplifier dictionary: every engaging account,
        # numbered in actor_id order (so ranks that break ties by actor_id can use the number), with its latest
        # status class and flags; the read joins it once, and everything after works on integer keys
        temp("_am_tp", """
            SELECT s.platform, s.post_id, s.created_at, tg.ti, tg.gi,
                   CAST(dense_rank() OVER (ORDER BY s.post_id) AS INTEGER) AS pn
            FROM posts s JOIN _am_tg tg ON s.account_id = tg.account_id""")
        coord_join = f"LEFT JOIN ({coord_sql}) c ON c.account_id = a.actor_id" if has_coord else ""
        risk_join = f"LEFT JOIN ({risk_sql}) r ON r.account_id = a.actor_id" if has_risk else ""
        temp("_am_ad", f"""
            SELECT a.actor_id, CAST(row_number() OVER (ORDER BY a.actor_id) AS INTEGER) AS ai,
                   CAST(coalesce(st.sc, 5) AS TINYINT) AS sc, st.checked_at,
                   {"c.account_id IS NOT NULL" if has_coord else "false"} AS coord,
                   {"r.account_id IS NOT NULL" if has_risk else "false"} AS risk
            FROM (SELECT account_id AS actor_id FROM posts WHERE kind IN ('repost', 'reply', 'quote')
                  UNION SELECT account_id FROM likes) a
            LEFT JOIN _am_st st ON st.account_id = a.actor_id {coord_join} {risk_join}""")
        rl = float(p.rapid_latency_s)
        # engagement ids (strings) are not kept: the rapid-fire order needs them only for ties, read again below
        with _written_join_sides(sql):
            temp("_am_e", _read_sql(p, rl))
        _fix_latency(sql, "_am_e", rl, temp)

        # rapid-fire: only amplifiers with at least rapid_min_posts rapid engagements can have a sequence. The
        # chain runs on a second cursor in a thread while this one computes the sums and amplifier counts: its
        # window is mostly single-threaded, so the other core does the aggregations meanwhile
        mp = int(p.rapid_min_posts)

        def rapid_chain(sql: Any, temp: Any) -> None:
            temp("_am_cand", f"SELECT ai FROM _am_e WHERE rapid GROUP BY ai HAVING count(*) >= {mp}")
            # Runs are counted in (created_at, engagement_id) order. A run is a stretch of rapid rows between
            # non-rapid ones, so the order among rows of one amplifier and time matters only when such a group
            # holds both a rapid and a non-rapid row; the first window orders by time alone and flags those
            # groups (a rapid row next to a non-rapid one of the same time, flag ``mix``). Only then (rare) are
            # the flagged groups' rows read again with their engagement ids and the window is run again (the
            # read toggles the global optimizer setting of _written_join_sides; the other cursor's plans may
            # change meanwhile, never its results).
            cand = "SELECT e.ai, e.ti, e.wk, e.pn, e.spid, e.created_at, e.lat, e.rapid, NULL::VARCHAR AS eid " \
                   "FROM _am_e e SEMI JOIN _am_cand c ON e.ai = c.ai"

            def rapid_rows(rows: str, order: str) -> None:
                same = "{f}(e.created_at) OVER w = e.created_at AND {f}(e.rapid) OVER w <> e.rapid"
                temp("_am_rr", f"""
                    SELECT ai, run, ti, wk, pn, spid, created_at, lat, mix FROM (
                      SELECT e.*, sum(CASE WHEN e.rapid THEN 0 ELSE 1 END) OVER (
                               w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run,
                             coalesce({same.format(f='lag')} OR {same.format(f='lead')}, false) AS mix
                      FROM ({rows}) e
                      WINDOW w AS (PARTITION BY e.ai ORDER BY {order}))
                    WHERE rapid""")

            rapid_rows(cand, "e.created_at")
            temp("_am_mix", "SELECT DISTINCT ai, created_at FROM _am_rr WHERE mix")
            if sql("SELECT count(*) FROM _am_mix").fetchone()[0]:
                temp("_am_mixs", "SELECT d.actor_id, m.created_at FROM _am_mix m JOIN _am_ad d ON d.ai = m.ai")
                with _written_join_sides(sql):
                    temp("_am_mr", _read_sql(p, rl, ids=True, only="_am_mixs"))
                _fix_latency(sql, "_am_mr", rl, temp)
                rapid_rows(f"""
                    SELECT e.* FROM ({cand}) e ANTI JOIN _am_mix m ON m.ai = e.ai AND m.created_at = e.created_at
                    UNION ALL
                    SELECT e.ai, e.ti, e.wk, e.pn, e.spid, e.created_at, e.lat, e.rapid, e.eid FROM _am_mr e""",
                           "e.created_at, e.eid")
            # distinct posts: numbered targets' posts (pn) plus, rarely, ids of other posts (spid, disjoint from
            # the numbered ones); the distinct counts run only over runs with at least rapid_min_posts rows
            posts = "count(DISTINCT pn)" + (" + count(DISTINCT spid)" if sql(
                "SELECT count(spid) FROM _am_rr").fetchone()[0] else "")
            temp("_am_run", f"SELECT ai, run FROM _am_rr GROUP BY ai, run HAVING count(*) >= {mp}")
            temp("_am_seq", f"""
                SELECT ai, run, {posts} AS posts, count(*) AS engagements,
                       count(DISTINCT ti) AS targets, min(created_at) AS start, max(created_at) AS "end",
                       max(lat) AS max_latency_s
                FROM _am_rr SEMI JOIN _am_run USING (ai, run) GROUP BY ai, run HAVING {posts} >= {mp}""")
            temp("_am_rc", """
                SELECT r.ti, any_value(tg.gi) AS gi, r.wk, r.ai, count(*) AS n_rapid
                FROM _am_rr r SEMI JOIN _am_seq s ON r.ai = s.ai AND r.run = s.run
                JOIN _am_tg tg ON tg.ti = r.ti
                GROUP BY r.ti, r.wk, r.ai""")

            temp("_am_rsum", f"""
                SELECT {_SCOPE_LABEL} AS scope, ti, gi, wk, sum(n_rapid)::BIGINT AS s_n_rapid,
                       count(DISTINCT ai) AS rapid_fire_amplifiers
                FROM _am_rc GROUP BY {_SETS} {_HAVING_RAW}""")

        cur = raw.cursor()
        chain = _Background(rapid_chain, cur.execute, temp_on(cur.execute))

        # scope sums that need no amplifier level (counts by kind and latency band, status-class sums, status
        # check range, latency mean): first per (target, week), then rolled up to the six scopes from those few
        # thousand rows (a grouping-sets pass over the rows cost three times as much); the latency mean is the
        # rolled-up sum over the count
        sums = {"s_n": "count(*)", **{f"s_n_{c}": f"sum(CASE WHEN k = {i} THEN 1 ELSE 0 END)"
                                      for i, c in enumerate(KIND_COLUMNS.values(), start=1)},
                "s_n_lat": "count(lat)", **{f"s_n_{b}": f"sum(CASE WHEN lat <= {sec} THEN 1 ELSE 0 END)"
                                            for b, sec in LATENCY_BANDS.items()},
                "e_suspended": "sum(CASE WHEN sc IN (1, 2) THEN 1 ELSE 0 END)",
                "e_susp_reposts": "sum(CASE WHEN sc IN (1, 2) AND k = 1 THEN 1 ELSE 0 END)",
                "e_deleted": "sum(CASE WHEN sc = 2 THEN 1 ELSE 0 END)",
                "e_unchecked": "sum(CASE WHEN sc = 5 THEN 1 ELSE 0 END)",
                "e_active": "sum(CASE WHEN sc = 3 THEN 1 ELSE 0 END)",
                "e_protected": "sum(CASE WHEN sc = 4 THEN 1 ELSE 0 END)",
                "e_coord": "sum(CASE WHEN coord THEN 1 ELSE 0 END)",
                "e_risk": "sum(CASE WHEN risk THEN 1 ELSE 0 END)"}
        temp("_am_sum1", f"""
            SELECT ti, gi, wk, {', '.join(f'{v}::BIGINT AS {k}' for k, v in sums.items())},
                   min(checked_at) AS status_checked_first, max(checked_at) AS status_checked_last,
                   sum(lat) AS s_lat
            FROM _am_e GROUP BY ti, gi, wk""")
        temp("_am_sum0", f"""
            SELECT {_SCOPE_LABEL} AS scope, ti, gi, wk, {', '.join(f'sum({k})::BIGINT AS {k}' for k in sums)},
                   min(status_checked_first) AS status_checked_first,
                   max(status_checked_last) AS status_checked_last,
                   CAST(round(CASE WHEN sum(s_n_lat) > 0 THEN sum(s_lat) / sum(s_n_lat) END, 6) AS DOUBLE)
                     AS latency_mean
            FROM _am_sum1 GROUP BY {_SETS} {_HAVING_RAW}""")
        # per scope type: (scope key, amplifier) counts -> amplifiers, status-class amplifier counts and the
        # histogram of per-amplifier counts, in one grouping-sets aggregate over the streamed reduction
        scope_parts, hist_parts = [], []
        for name, label, keys in _SCOPE_TYPES:
            kl = list(keys)
            where = ["wk IS NOT NULL"] if "wk" in keys else []
            if label == "group":
                where.append("gi IS NOT NULL")
            w = " AND ".join(where) or "TRUE"
            ksel = ", ".join(kl + ["ai"])
            if name == "ta":
                # with the latency counts the super-spreader details need (per target and amplifier)
                temp("_am_pa_ta", f"SELECT {ksel}, count(*) AS n, min(sc) AS sc, count(lat) AS n_lat, "
                                  f"sum(CASE WHEN lat <= 60 THEN 1 ELSE 0 END)::BIGINT AS n_60s "
                                  f"FROM _am_e GROUP BY {ksel}")
                src = "_am_pa_ta"
            elif name == "ga":  # rolled up from the target level (null group kept for the study roll-up)
                temp("_am_pa_ga", "SELECT gi, ai, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ta GROUP BY gi, ai")
                src = "(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)"
            elif name == "sa":
                temp("_am_pa_sa", "SELECT ai, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ga GROUP BY ai")
                src = "_am_pa_sa"
            else:
                src = f"(SELECT {ksel}, count(*) AS n, min(sc) AS sc FROM _am_e WHERE {w} GROUP BY {ksel})"
            kg = ", ".join(kl)
            gsets = f"GROUPING SETS (({kg}), ({kg + ', ' if kl else ''}n))"
            temp(f"_am_agg_{name}", f"""
                SELECT {kg + ',' if kl else ''} n AS hn, GROUPING(n) AS is_sum, count(*) AS c,
                       count(*) FILTER (WHERE sc IN (1, 2)) AS suspended_amplifiers,
                       count(*) FILTER (WHERE sc = 5) AS unchecked_amplifiers
                FROM {src} GROUP BY {gsets}""")
            cols = ", ".join(c if c in kl else f"CAST(NULL AS INTEGER) AS {c}" for c in ("ti", "gi", "wk"))
            scope_parts.append(f"SELECT '{label}' AS scope, {cols}, c, suspended_amplifiers, unchecked_amplifiers "
                               f"FROM _am_agg_{name} WHERE is_sum = 1")
            hist_parts.append(f"SELECT '{label}' AS scope, {cols}, hn AS n, c FROM _am_agg_{name} WHERE is_sum = 0")
        on = lambda a, b: " AND ".join(
            [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
        chain.join()
        # (after the rapid-fire chain, so that its window and the quantiles' value lists do not overlap: with
        # both at once the 30M-engagement run peaked at 5.5 GiB)
        # exact latency quantiles (quantile_cont): per target scope from the rows; per group and study scope
        # from counts of distinct latency values, which determine the order statistics quantile_cont
        # interpolates between (far fewer values to sort than rows)
        qs = ", ".join(repr(float(q)) for q in LATENCY_QUANTILES)
        qnames = [f"latency_p{int(round(q * 100)):02d}" for q in LATENCY_QUANTILES]
        qcols = ", ".join(f"CAST(round(qs[{i + 1}], 6) AS DOUBLE) AS {c}" for i, c in enumerate(qnames))
        temp("_am_qt", f"""
            SELECT 'target' AS scope, ti, gi, wk, {qcols} FROM (
              SELECT ti, gi, wk, quantile_cont(lat, [{qs}]) AS qs FROM _am_e
              GROUP BY GROUPING SETS ((ti, gi, wk), (ti, gi)) HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL))""")
        temp("_am_lv", "SELECT gi, wk, lat, count(*) AS c FROM _am_e WHERE lat IS NOT NULL GROUP BY gi, wk, lat")
        lv = raw.execute("""
            SELECT CAST(GROUPING(gi) AS TINYINT) AS sk, gi, wk, lat, sum(c)::BIGINT AS c FROM _am_lv
            GROUP BY GROUPING SETS ((gi, wk, lat), (gi, lat), (wk, lat), (lat))
            HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL) AND NOT (GROUPING(gi) = 0 AND gi IS NULL)
            ORDER BY sk, gi NULLS LAST, wk NULLS LAST, lat""").to_arrow_table()
        raw.register("_am_qg_arrow", _quantiles_from_counts(lv, LATENCY_QUANTILES, qnames))
        temp("_am_qg", f"""
            SELECT CASE WHEN sk = 0 THEN 'group' ELSE 'study' END AS scope, NULL::INTEGER AS ti, gi, wk,
                   {', '.join(f'CAST(round({c}, 6) AS DOUBLE) AS {c}' for c in qnames)}
            FROM _am_qg_arrow""")
        raw.unregister("_am_qg_arrow")
        temp("_am_sum", f"""
            SELECT u.*, {', '.join('q.' + c for c in qnames)}
            FROM _am_sum0 u LEFT JOIN (SELECT * FROM _am_qt UNION ALL SELECT * FROM _am_qg) q
              ON q.scope = u.scope AND q.ti IS NOT DISTINCT FROM u.ti AND q.gi IS NOT DISTINCT FROM u.gi
                 AND q.wk IS NOT DISTINCT FROM u.wk""")

        temp("_am_s", f"""
            SELECT a.*, u.* EXCLUDE (scope, ti, gi, wk),
                   coalesce(r.s_n_rapid, 0) AS s_n_rapid, coalesce(r.rapid_fire_amplifiers, 0) AS rapid_fire_amplifiers
            FROM ({' UNION ALL '.join(scope_parts)}) a
            JOIN _am_sum u ON {on('a', 'u')} LEFT JOIN _am_rsum r ON {on('a', 'r')}""")
        temp("_am_h", " UNION ALL ".join(hist_parts))

        # concentration from the histogram of per-amplifier counts (ties change none of these sums)
        def top_m(k: float) -> str:
            return _top_m_sql("namp", k)

        temp("_am_hc", """
            SELECT h.*, s.c AS namp, s.s_n AS total,
                   sum(h.c) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c AS above,
                   sum(h.c) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c AS below,
                   sum(h.c * h.n) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c * h.n AS below_sum
            FROM _am_h h JOIN _am_s s ON s.scope = h.scope AND s.ti IS NOT DISTINCT FROM h.ti
                 AND s.gi IS NOT DISTINCT FROM h.gi AND s.wk IS NOT DISTINCT FROM h.wk""")
        temp("_am_conc", f"""
            SELECT scope, ti, gi, wk,
                   sum(n * least(c, greatest({top_m(p.top)} - above, 0)))::BIGINT AS e_top,
                   sum(n * least(c, greatest({top_m(0.01)} - above, 0)))::BIGINT AS e_top1,
                   sum(n * (c * below + c * (c + 1) // 2))::BIGINT AS sum_ix
            FROM _am_hc GROUP BY scope, ti, gi, wk""")

        # posts made by the targets, all scopes in one pass
        temp("_am_po", f"""
            SELECT {_SCOPE_LABEL} AS scope, ti, gi, wk, count(*) AS posts,
                   sum(CASE WHEN kind = 'original' THEN 1 ELSE 0 END)::BIGINT AS posts_original
            FROM (SELECT tg.ti, tg.gi, CASE WHEN po.created_at IS NOT NULL THEN {_week_sql('po.created_at')} END AS wk,
                         po.kind
                  FROM posts po JOIN _am_tg tg ON po.account_id = tg.account_id
                  WHERE {_period_sql('po.created_at', p)})
            GROUP BY GROUPING SETS ((ti, gi, wk), (ti, gi), (gi, wk), (gi), (wk), ()) {_HAVING_RAW}""")
        temp("_am_lb", f"""
            SELECT {_SCOPE_LABEL} AS scope, ti, gi, count(*) AS targets, count(label) AS labelled_targets
            FROM _am_tg GROUP BY GROUPING SETS ((ti, gi), (gi), ())
            HAVING NOT (GROUPING(ti) = 1 AND GROUPING(gi) = 0 AND gi IS NULL)""")
        return _assemble(raw, p, schemas, has_coord, has_risk, temp)
    finally:
        if chain is not None:
            chain.join(raise_error=False)
            cur.close()
        for t in temps:
            sql(f"DROP TABLE IF EXISTS {t}")


def _share_sql(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / CAST({den} AS DOUBLE) END"


def _assemble(raw: Any, p: Params, schemas: dict[str, Any], has_coord: bool, has_risk: bool,
              temp: Any) -> dict[str, Any]:
    """The four result tables from the reduced temp tables of :func:`run_duckdb`."""
    key = lambda a, b: " AND ".join(
        [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
    temp("_am_keys", """
        SELECT scope, ti, gi, wk FROM _am_s UNION SELECT scope, ti, gi, wk FROM _am_po
        UNION SELECT 'target', ti, gi, NULL FROM _am_tg
        UNION SELECT 'group', NULL, gi, NULL FROM _am_tg WHERE gi IS NOT NULL
        UNION SELECT 'study', NULL, NULL, NULL""")
    temp("_am_groups", "SELECT DISTINCT gi, grp FROM _am_tg WHERE gi IS NOT NULL")
    z = lambda c: f"coalesce({c}, 0)"
    n, amp = z("s.s_n"), z("s.c")
    fa, fn = f"CAST({amp} AS DOUBLE)", f"CAST({n} AS DOUBLE)"
    quant = ", ".join(f"s.latency_p{int(round(x * 100)):02d}" for x in LATENCY_QUANTILES)
    summary_sql = f"""
        SELECT k.scope, CASE WHEN k.scope = 'target' THEN tg.account_id END AS target,
               CASE WHEN k.scope = 'target' THEN tg.handle END AS handle, g.grp AS "group",
               DATE '1970-01-01' + k.wk AS week,
               {z('po.posts')} AS posts, {z('po.posts_original')} AS posts_original,
               {n} AS engagements, {', '.join(f"{z('s.s_n_' + c)} AS {c}" for c in KIND_COLUMNS.values())},
               {amp} AS amplifiers,
               {_share_sql(z('s.e_suspended'), n)} AS share_suspended,
               {_share_sql(z('s.e_susp_reposts'), z('s.s_n_reposts'))} AS share_suspended_reposts,
               {_share_sql(z('s.e_deleted'), n)} AS share_deleted,
               {_share_sql(z('s.e_active'), n)} AS share_active,
               {_share_sql(z('s.e_protected'), n)} AS share_protected,
               {_share_sql(z('s.e_unchecked'), n)} AS share_unchecked,
               {z('s.suspended_amplifiers')} AS suspended_amplifiers,
               {z('s.unchecked_amplifiers')} AS unchecked_amplifiers,
               s.status_checked_first, s.status_checked_last,
               CAST({float(p.top)!r} AS DOUBLE) AS top_k,
               {_share_sql(z('c.e_top'), n)} AS top_share,
               {_share_sql(z('c.e_top1'), n)} AS top1_share,
               CASE WHEN {amp} > 0 THEN {_top_m_sql(amp, p.top)} ELSE 0 END AS top_amplifiers,
               CASE WHEN {n} > 0 THEN 2.0 * CAST({z('c.sum_ix')} AS DOUBLE) / ({fa} * {fn}) - ({fa} + 1.0) / {fa}
               END AS gini,
               {z('s.s_n_lat')} AS latency_known,
               {', '.join(f"{_share_sql(z('s.s_n_' + b), z('s.s_n_lat'))} AS share_within_{b}" for b in LATENCY_BANDS)},
               {quant}, s.latency_mean,
               {z('s.s_n_rapid')} AS rapid_fire_engagements,
               {z('s.rapid_fire_amplifiers')} AS rapid_fire_amplifiers,
               {_share_sql(z('s.s_n_rapid'), n)} AS share_rapid_fire,
               {_share_sql(z('s.e_coord'), n) if has_coord else 'CAST(NULL AS DOUBLE)'} AS share_coordinated,
               {_share_sql(z('s.e_risk'), n) if has_risk else 'CAST(NULL AS DOUBLE)'} AS share_high_risk,
               {z('lb.targets')} AS targets, {z('lb.labelled_targets')} AS labelled_targets,
               {_share_sql(z('lb.labelled_targets'), z('lb.targets'))} AS label_coverage
        FROM _am_keys k
        LEFT JOIN _am_s s ON {key('k', 's')}
        LEFT JOIN _am_conc c ON {key('k', 'c')}
        LEFT JOIN _am_po po ON {key('k', 'po')}
        LEFT JOIN _am_lb lb ON lb.scope = k.scope AND lb.ti IS NOT DISTINCT FROM k.ti
                               AND lb.gi IS NOT DISTINCT FROM k.gi
        LEFT JOIN _am_tg tg ON tg.ti = k.ti
        LEFT JOIN _am_groups g ON g.gi = k.gi"""

    # super-spreaders: the m-th largest count of each whole-period scope is read off the histogram, then only
    # amplifiers at or above it are ranked
    temp("_am_thr", f"""
        SELECT scope, ti, gi, m, total, n AS vm FROM (
          SELECT *, {_top_m_sql('namp', p.top)} AS m FROM _am_hc WHERE wk IS NULL)
        WHERE above < m AND above + c >= m""")
    parts = []
    for name, label, kl in (("ta", "target", ["ti", "gi"]), ("ga", "group", ["gi"]), ("sa", "study", [])):
        # a target's key is ti alone (its gi is null when the target has no group)
        cond = " AND ".join([f"t.scope = '{label}'"] + [f"t.{c} = a.{c}" for c in kl if c != "gi" or name == "ga"])
        sel = ", ".join(f"a.{c}" if c in kl else f"CAST(NULL AS INTEGER) AS {c}" for c in ("ti", "gi"))
        parts.append(f"""
            SELECT '{label}' AS scope, {sel}, a.ai, a.n, t.m, t.total,
                   row_number() OVER (PARTITION BY {', '.join('a.' + c for c in kl) or "'all'"}
                                      ORDER BY a.n DESC, a.ai) AS rank
            FROM {"(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)" if name == "ga" else "_am_pa_" + name} a
            JOIN _am_thr t ON {cond} AND a.n >= t.vm""")
    temp("_am_ss0", f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE rank <= m")
    # the chosen amplifiers' latency and rapid-fire counts, per (target, amplifier), then summed per scope
    temp("_am_ssd", """
        SELECT e.ti, e.gi, e.ai, e.n_lat, e.n_60s, 0::BIGINT AS n_rapid, d.coord, d.risk
        FROM _am_pa_ta e SEMI JOIN (SELECT DISTINCT ai FROM _am_ss0) c ON e.ai = c.ai
        JOIN _am_ad d ON d.ai = e.ai
        UNION ALL
        SELECT r.ti, r.gi, r.ai, 0, 0, r.n_rapid, NULL, NULL
        FROM _am_rc r SEMI JOIN (SELECT DISTINCT ai FROM _am_ss0) c ON r.ai = c.ai""")
    # the details summed per scope key and amplifier first (joining each chosen amplifier to all its
    # per-target rows cost seconds for amplifiers chosen in many target scopes)
    temp("_am_ssg", f"""
        SELECT {_SCOPE_LABEL} AS scope, ti, gi, ai, sum(n_lat)::BIGINT AS n_lat, sum(n_60s)::BIGINT AS n_60s,
               sum(n_rapid)::BIGINT AS n_rapid, coalesce(bool_or(coord), false) AS coord,
               coalesce(bool_or(risk), false) AS risk
        FROM _am_ssd GROUP BY GROUPING SETS ((ti, gi, ai), (gi, ai), (ai))""")
    ss_sql = f"""
        SELECT x.scope, CASE WHEN x.scope = 'target' THEN tg.account_id END AS target, g.grp AS "group",
               CAST(x.rank AS BIGINT) AS rank, ad.actor_id, acc.actor_handle, x.n AS engagements,
               {_share_sql('x.n', 'x.total')} AS share, st.status, st.checked_at,
               {'x.coord' if has_coord else 'CAST(NULL AS BOOLEAN)'} AS coordinated,
               {'x.risk' if has_risk else 'CAST(NULL AS BOOLEAN)'} AS high_risk,
               {_share_sql('x.n_60s', 'x.n_lat')} AS share_within_60s, x.n_rapid AS rapid_fire_engagements
        FROM (SELECT x.scope, x.ti, x.gi, x.ai, x.n, x.total, x.rank, d.n_lat, d.n_60s, d.n_rapid, d.coord, d.risk
              FROM _am_ss0 x JOIN _am_ssg d ON d.scope = x.scope AND d.ai = x.ai
                   AND d.ti IS NOT DISTINCT FROM x.ti AND d.gi IS NOT DISTINCT FROM x.gi) x
        LEFT JOIN _am_ad ad ON ad.ai = x.ai
        LEFT JOIN _am_tg tg ON tg.ti = x.ti
        LEFT JOIN _am_groups g ON g.gi = x.gi
        LEFT JOIN _am_st st ON st.account_id = ad.actor_id
        LEFT JOIN (SELECT account_id, max(handle) AS actor_handle FROM accounts
                   SEMI JOIN (SELECT DISTINCT d.actor_id FROM _am_ss0 x JOIN _am_ad d ON d.ai = x.ai) c
                     ON account_id = c.actor_id
                   GROUP BY account_id) acc ON acc.account_id = ad.actor_id"""

    # Lorenz points: the last amplifier of every percentile of population, i = floor(b * N / points)
    pts = int(p.lorenz_points)
    lorenz_sql = f"""
        WITH sc AS (SELECT DISTINCT scope, ti, gi, namp, total FROM _am_hc WHERE wk IS NULL),
             pt AS (SELECT DISTINCT sc.scope, sc.ti, sc.gi, sc.namp, sc.total, (b.b * sc.namp) // {pts} AS i
                    FROM sc CROSS JOIN range(1, {pts + 1}) b(b))
        SELECT pt.scope, CASE WHEN pt.scope = 'target' THEN tg.account_id END AS target, g.grp AS "group",
               CAST(pt.i AS BIGINT) AS amplifiers_rank,
               CAST(pt.i AS DOUBLE) / CAST(pt.namp AS DOUBLE) AS population_share,
               {_share_sql('h.below_sum + (pt.i - h.below) * h.n', 'pt.total')} AS engagement_share
        FROM pt JOIN _am_hc h ON h.wk IS NULL AND h.scope = pt.scope AND h.ti IS NOT DISTINCT FROM pt.ti
             AND h.gi IS NOT DISTINCT FROM pt.gi AND pt.i > h.below AND pt.i <= h.below + h.c
        LEFT JOIN _am_tg tg ON tg.ti = pt.ti
        LEFT JOIN _am_groups g ON g.gi = pt.gi
        WHERE pt.i >= 1"""
    rf_sql = ("SELECT d.actor_id, s.start, s.\"end\", s.posts, s.engagements, s.targets, s.max_latency_s "
              "FROM _am_seq s LEFT JOIN _am_ad d ON d.ai = s.ai")
    out = {}
    for name, q in (("summary", summary_sql), ("superspreaders", ss_sql), ("lorenz", lorenz_sql),
                    ("rapidfire", rf_sql)):
        t = raw.execute(q).to_arrow_table()
        schema = schemas[name]
        out[name] = t.select(schema.names).cast(schema)
    return out
