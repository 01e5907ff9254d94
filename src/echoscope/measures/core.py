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

* reads the targets' engagements once into a slim temp table with integer target / group / week keys
  (weeks from epoch arithmetic: ``date_trunc('week', TIMESTAMPTZ)`` goes through ICU and cost more than the
  join), a kind code, the latency and the amplifier's latest status class; the read is the ``engagements``
  view's definition applied to the targets only (:func:`_engagements_sql`), and the string ids
  (``engagement_id``, ``subject_post_id``) are kept only on rapid rows (with the targets-only read, this halved
  the statement's CPU time at 10M engagements);
* computes every sum that needs no amplifier level (kinds, latency bands, status-class shares, status-check
  range, mean) in one ``GROUPING SETS`` pass over the six scopes; exact ``quantile_cont`` latency quantiles
  over the rows only for the target scopes, and for the group and study scopes (millions of values each) from
  counts of distinct latency values (:func:`_quantiles_from_counts`, bit-identical);
* runs the rapid-fire window only over amplifiers with at least ``rapid_min_posts`` rapid engagements, reading
  the ids of non-rapid engagements again only when one shares an amplifier and timestamp with a rapid one;
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

import datetime as dt
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

    z = lambda c: j[c].fill_null(0)  # noqa: E731
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


def _engagements_sql() -> str:
    """The ``engagements`` view (``ENGAGEMENTS_SQL`` in :mod:`echoscope.engine`) restricted to subjects in
    ``_am_tg``, with the same rows (multiplicities included) and values for those subjects, but cheaper.

    * Likes: the view's ``LEFT JOIN posts s`` is followed by the join of ``s.account_id`` to the targets, so an
      inner join with the targets' posts only gives the same rows; the hash table is built on the targets'
      posts instead of all posts.
    * Reposts, quotes, replies: ``COALESCE(p.ref_account_id, s.account_id)`` can only be a target when
      ``ref_account_id`` is null or a target, which filters ``p`` before the self-join; ``s`` (all posts) stays
      the view's left join, because latency and a null ``ref_account_id`` need any matching post.
    """
    lat = "CAST(EXTRACT(EPOCH FROM {a}.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s"
    return f"""
        SELECT p.post_id AS engagement_id, p.account_id AS actor_id, p.kind, p.ref_post_id AS subject_post_id,
               COALESCE(p.ref_account_id, s.account_id) AS subject_account_id, p.created_at, {lat.format(a='p')}
        FROM posts p
        LEFT JOIN posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
        WHERE p.kind IN ('repost', 'reply', 'quote')
          AND (p.ref_account_id IS NULL OR p.ref_account_id IN (SELECT account_id FROM _am_tg))
        UNION ALL
        SELECT l.account_id || ':' || l.post_id AS engagement_id, l.account_id AS actor_id, 'like' AS kind,
               l.post_id AS subject_post_id, s.account_id AS subject_account_id, l.created_at, {lat.format(a='l')}
        FROM likes l
        JOIN (SELECT platform, post_id, account_id, created_at FROM posts
              WHERE account_id IN (SELECT account_id FROM _am_tg)) s
          ON s.platform = l.platform AND s.post_id = l.post_id"""


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

    Plan (see the module docstring for why): (1) one pass over the targets' engagements writes a slim temp
    table (integer target / group / week keys, amplifier, kind code, latency, status class; string ids only on
    rapid rows); (2) one grouping-sets pass over it gives every sum that needs no amplifier level, and the exact
    latency quantiles (``quantile_cont``) come from the rows for target scopes and from counts of distinct
    values for group and study scopes; (3) the rapid-fire window runs only over amplifiers with enough
    rapid engagements; (4) per scope kind, a hash aggregation to (scope key, amplifier) counts streams into a
    grouping-sets aggregate giving the number of amplifiers and the histogram of per-amplifier counts, from which
    top-k share, Gini, Lorenz points and super-spreader thresholds follow.
    """
    raw = con.con
    sql = raw.execute
    has_coord = (coord_sql := _flag_sql(con, "coord_members", COORD_FLAG_COLUMNS, None)) is not None
    has_risk = (risk_sql := _flag_sql(con, "account_scores", RISK_FLAG_COLUMNS, p)) is not None
    grp_filter = f'AND "group" = {_lit(p.group)}' if p.group is not None else ""
    temps: list[str] = []

    def temp(name: str, body: str) -> None:
        sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
        temps.append(name)

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
        coord_join = f"LEFT JOIN ({coord_sql}) c ON c.account_id = e.actor_id" if has_coord else ""
        risk_join = f"LEFT JOIN ({risk_sql}) r ON r.account_id = e.actor_id" if has_risk else ""
        kind_case = " ".join(f"WHEN {_lit(k)} THEN {i}" for i, k in enumerate(KIND_COLUMNS, start=1))
        rl = float(p.rapid_latency_s)
        src = _engagements_sql()
        rapid_sql = f"coalesce(e.latency_s >= 0 AND e.latency_s <= {rl!r} AND e.created_at IS NOT NULL, false)"
        # engagement_id / subject_post_id (strings, a third of this statement's cost when written for every row)
        # are kept only on rapid rows, the only ones the rapid-fire sequences read them from
        temp("_am_e", f"""
            SELECT tg.ti, tg.gi, {_week_sql('e.created_at')} AS wk, e.actor_id,
                   CAST(CASE e.kind {kind_case} ELSE 0 END AS TINYINT) AS k,
                   CASE WHEN e.latency_s >= 0 THEN e.latency_s END AS lat,
                   {rapid_sql} AS rapid, e.created_at,
                   CASE WHEN {rapid_sql} THEN e.engagement_id END AS eid,
                   CASE WHEN {rapid_sql} THEN e.subject_post_id END AS spid,
                   CAST(coalesce(st.sc, 5) AS TINYINT) AS sc, st.checked_at,
                   {"c.account_id IS NOT NULL" if has_coord else "false"} AS coord,
                   {"r.account_id IS NOT NULL" if has_risk else "false"} AS risk
            FROM ({src}) e JOIN _am_tg tg ON e.subject_account_id = tg.account_id
            LEFT JOIN _am_st st ON st.account_id = e.actor_id {coord_join} {risk_join}
            WHERE {_period_sql('e.created_at', p)}""")

        # rapid-fire: only amplifiers with at least rapid_min_posts rapid engagements can have a sequence
        mp = int(p.rapid_min_posts)
        temp("_am_cand", f"SELECT actor_id FROM _am_e WHERE rapid GROUP BY actor_id HAVING count(*) >= {mp}")
        # Runs are counted in (created_at, engagement_id) order. Non-rapid rows carry no engagement_id, which
        # changes no run unless a non-rapid row shares its amplifier and time with a rapid row: such a group has a
        # rapid row next to a non-rapid one of the same time in the window's order (flag ``mix``, from the same
        # sort). Only then (rare) are those non-rapid rows read again from the source with their engagement_id,
        # replacing their slim copies, and the window is run again.
        cand = "SELECT e.actor_id, e.ti, e.wk, e.spid, e.created_at, e.lat, e.rapid, e.eid FROM _am_e e " \
               "SEMI JOIN _am_cand c ON e.actor_id = c.actor_id"

        def rapid_rows(rows: str) -> None:
            same = "{f}(e.created_at) OVER w = e.created_at AND {f}(e.rapid) OVER w <> e.rapid"
            temp("_am_rr", f"""
                SELECT actor_id, run, ti, wk, spid AS subject_post_id, created_at, lat, mix FROM (
                  SELECT e.*, sum(CASE WHEN e.rapid THEN 0 ELSE 1 END) OVER (
                           w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run,
                         coalesce({same.format(f='lag')} OR {same.format(f='lead')}, false) AS mix
                  FROM ({rows}) e
                  WINDOW w AS (PARTITION BY e.actor_id ORDER BY e.created_at, e.eid))
                WHERE rapid""")

        rapid_rows(cand)
        temp("_am_mix", "SELECT DISTINCT actor_id, created_at FROM _am_rr WHERE mix")
        if sql("SELECT count(*) FROM _am_mix").fetchone()[0]:
            rapid_rows(f"""
                SELECT e.* FROM ({cand}) e
                LEFT JOIN _am_mix m ON m.actor_id = e.actor_id AND m.created_at = e.created_at
                WHERE e.rapid OR m.actor_id IS NULL
                UNION ALL
                SELECT e.actor_id, NULL, NULL, NULL, e.created_at, NULL, false, e.engagement_id
                FROM ({src}) e JOIN _am_tg tg ON e.subject_account_id = tg.account_id
                SEMI JOIN _am_mix m ON m.actor_id = e.actor_id AND m.created_at = e.created_at
                WHERE {_period_sql('e.created_at', p)} AND NOT {rapid_sql}""")
        temp("_am_seq", f"""
            SELECT actor_id, run, count(DISTINCT subject_post_id) AS posts, count(*) AS engagements,
                   count(DISTINCT ti) AS targets, min(created_at) AS start, max(created_at) AS "end",
                   max(lat) AS max_latency_s
            FROM _am_rr GROUP BY actor_id, run HAVING count(DISTINCT subject_post_id) >= {mp}""")
        temp("_am_rc", """
            SELECT r.ti, any_value(tg.gi) AS gi, r.wk, r.actor_id, count(*) AS n_rapid
            FROM _am_rr r SEMI JOIN _am_seq s ON r.actor_id = s.actor_id AND r.run = s.run
            JOIN _am_tg tg ON tg.ti = r.ti
            GROUP BY r.ti, r.wk, r.actor_id""")

        # scope sums that need no amplifier level (counts by kind and latency band, status-class sums, status
        # check range, latency mean): one grouping-sets pass with small integer keys
        kinds = ", ".join(f"sum(CASE WHEN k = {i} THEN 1 ELSE 0 END)::BIGINT AS s_n_{c}"
                          for i, c in enumerate(KIND_COLUMNS.values(), start=1))
        bands = ", ".join(f"sum(CASE WHEN lat <= {s} THEN 1 ELSE 0 END)::BIGINT AS s_n_{b}"
                          for b, s in LATENCY_BANDS.items())
        temp("_am_sum0", f"""
            SELECT {_SCOPE_LABEL} AS scope, ti, gi, wk, count(*) AS s_n, {kinds}, count(lat) AS s_n_lat, {bands},
                   sum(CASE WHEN sc IN (1, 2) THEN 1 ELSE 0 END)::BIGINT AS e_suspended,
                   sum(CASE WHEN sc IN (1, 2) AND k = 1 THEN 1 ELSE 0 END)::BIGINT AS e_susp_reposts,
                   sum(CASE WHEN sc = 2 THEN 1 ELSE 0 END)::BIGINT AS e_deleted,
                   sum(CASE WHEN sc = 5 THEN 1 ELSE 0 END)::BIGINT AS e_unchecked,
                   sum(CASE WHEN sc = 3 THEN 1 ELSE 0 END)::BIGINT AS e_active,
                   sum(CASE WHEN sc = 4 THEN 1 ELSE 0 END)::BIGINT AS e_protected,
                   min(checked_at) AS status_checked_first, max(checked_at) AS status_checked_last,
                   sum(CASE WHEN coord THEN 1 ELSE 0 END)::BIGINT AS e_coord,
                   sum(CASE WHEN risk THEN 1 ELSE 0 END)::BIGINT AS e_risk,
                   CAST(round(avg(lat), 6) AS DOUBLE) AS latency_mean
            FROM _am_e GROUP BY {_SETS} {_HAVING_RAW}""")
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
        temp("_am_rsum", f"""
            SELECT {_SCOPE_LABEL} AS scope, ti, gi, wk, sum(n_rapid)::BIGINT AS s_n_rapid,
                   count(DISTINCT actor_id) AS rapid_fire_amplifiers
            FROM _am_rc GROUP BY {_SETS} {_HAVING_RAW}""")

        # per scope type: (scope key, amplifier) counts -> amplifiers, status-class amplifier counts and the
        # histogram of per-amplifier counts, in one grouping-sets aggregate over the streamed reduction
        scope_parts, hist_parts = [], []
        for name, label, keys in _SCOPE_TYPES:
            kl = list(keys)
            where = ["wk IS NOT NULL"] if "wk" in keys else []
            if label == "group":
                where.append("gi IS NOT NULL")
            w = " AND ".join(where) or "TRUE"
            ksel = ", ".join(kl + ["actor_id"])
            if name == "ta":
                temp("_am_pa_ta", f"SELECT {ksel}, count(*) AS n, min(sc) AS sc FROM _am_e GROUP BY {ksel}")
                src = "_am_pa_ta"
            elif name == "ga":  # rolled up from the target level (null group kept for the study roll-up)
                temp("_am_pa_ga", "SELECT gi, actor_id, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ta "
                                  "GROUP BY gi, actor_id")
                src = "(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)"
            elif name == "sa":
                temp("_am_pa_sa", "SELECT actor_id, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ga "
                                  "GROUP BY actor_id")
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
        on = lambda a, b: " AND ".join(  # noqa: E731
            [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
        temp("_am_s", f"""
            SELECT a.*, u.* EXCLUDE (scope, ti, gi, wk),
                   coalesce(r.s_n_rapid, 0) AS s_n_rapid, coalesce(r.rapid_fire_amplifiers, 0) AS rapid_fire_amplifiers
            FROM ({' UNION ALL '.join(scope_parts)}) a
            JOIN _am_sum u ON {on('a', 'u')} LEFT JOIN _am_rsum r ON {on('a', 'r')}""")
        temp("_am_h", " UNION ALL ".join(hist_parts))

        # concentration from the histogram of per-amplifier counts (ties change none of these sums)
        def top_m(k: float) -> str:
            return _top_m_sql("namp", k)

        temp("_am_hc", f"""
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
        for t in temps:
            sql(f"DROP TABLE IF EXISTS {t}")


def _share_sql(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / CAST({den} AS DOUBLE) END"


def _assemble(raw: Any, p: Params, schemas: dict[str, Any], has_coord: bool, has_risk: bool,
              temp: Any) -> dict[str, Any]:
    """The four result tables from the reduced temp tables of :func:`run_duckdb`."""
    key = lambda a, b: " AND ".join(  # noqa: E731
        [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
    temp("_am_keys", """
        SELECT scope, ti, gi, wk FROM _am_s UNION SELECT scope, ti, gi, wk FROM _am_po
        UNION SELECT 'target', ti, gi, NULL FROM _am_tg
        UNION SELECT 'group', NULL, gi, NULL FROM _am_tg WHERE gi IS NOT NULL
        UNION SELECT 'study', NULL, NULL, NULL""")
    temp("_am_groups", "SELECT DISTINCT gi, grp FROM _am_tg WHERE gi IS NOT NULL")
    z = lambda c: f"coalesce({c}, 0)"  # noqa: E731
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
        cond = " AND ".join([f"t.scope = '{label}'"] + [f"t.{c} = a.{c}" for c in kl])
        sel = ", ".join(f"a.{c}" if c in kl else f"CAST(NULL AS INTEGER) AS {c}" for c in ("ti", "gi"))
        parts.append(f"""
            SELECT '{label}' AS scope, {sel}, a.actor_id, a.n, t.m, t.total,
                   row_number() OVER (PARTITION BY {', '.join('a.' + c for c in kl) or "'all'"}
                                      ORDER BY a.n DESC, a.actor_id) AS rank
            FROM {"(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)" if name == "ga" else "_am_pa_" + name} a
            JOIN _am_thr t ON {cond} AND a.n >= t.vm""")
    temp("_am_ss0", f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE rank <= m")
    # the chosen amplifiers' latency and rapid-fire counts, per (target, amplifier), then summed per scope
    temp("_am_ssd", """
        SELECT e.ti, e.gi, e.actor_id, count(e.lat) AS n_lat,
               sum(CASE WHEN e.lat <= 60 THEN 1 ELSE 0 END)::BIGINT AS n_60s, 0::BIGINT AS n_rapid,
               bool_or(e.coord) AS coord, bool_or(e.risk) AS risk
        FROM _am_e e SEMI JOIN (SELECT DISTINCT actor_id FROM _am_ss0) c ON e.actor_id = c.actor_id
        GROUP BY e.ti, e.gi, e.actor_id
        UNION ALL
        SELECT r.ti, r.gi, r.actor_id, 0, 0, r.n_rapid, NULL, NULL
        FROM _am_rc r SEMI JOIN (SELECT DISTINCT actor_id FROM _am_ss0) c ON r.actor_id = c.actor_id""")
    ss_sql = f"""
        SELECT x.scope, CASE WHEN x.scope = 'target' THEN tg.account_id END AS target, g.grp AS "group",
               CAST(x.rank AS BIGINT) AS rank, x.actor_id, acc.actor_handle, x.n AS engagements,
               {_share_sql('x.n', 'x.total')} AS share, st.status, st.checked_at,
               {'x.coord' if has_coord else 'CAST(NULL AS BOOLEAN)'} AS coordinated,
               {'x.risk' if has_risk else 'CAST(NULL AS BOOLEAN)'} AS high_risk,
               {_share_sql('x.n_60s', 'x.n_lat')} AS share_within_60s, x.n_rapid AS rapid_fire_engagements
        FROM (SELECT x.scope, x.ti, x.gi, x.actor_id, x.n, x.total, x.rank,
                     sum(d.n_lat)::BIGINT AS n_lat, sum(d.n_60s)::BIGINT AS n_60s,
                     sum(d.n_rapid)::BIGINT AS n_rapid, coalesce(bool_or(d.coord), false) AS coord,
                     coalesce(bool_or(d.risk), false) AS risk
              FROM _am_ss0 x JOIN _am_ssd d ON d.actor_id = x.actor_id
                   AND (x.scope = 'study' OR (x.scope = 'group' AND d.gi = x.gi)
                        OR (x.scope = 'target' AND d.ti = x.ti))
              GROUP BY x.scope, x.ti, x.gi, x.actor_id, x.n, x.total, x.rank) x
        LEFT JOIN _am_tg tg ON tg.ti = x.ti
        LEFT JOIN _am_groups g ON g.gi = x.gi
        LEFT JOIN _am_st st ON st.account_id = x.actor_id
        LEFT JOIN (SELECT account_id, max(handle) AS actor_handle FROM accounts
                   SEMI JOIN (SELECT DISTINCT actor_id FROM _am_ss0) c ON account_id = c.actor_id
                   GROUP BY account_id) acc ON acc.account_id = x.actor_id"""

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
    rf_sql = ("SELECT actor_id, start, \"end\", posts, engagements, targets, max_latency_s FROM _am_seq")
    out = {}
    for name, q in (("summary", summary_sql), ("superspreaders", ss_sql), ("lorenz", lorenz_sql),
                    ("rapidfire", rf_sql)):
        t = raw.execute(q).to_arrow_table()
        schema = schemas[name]
        out[name] = t.select(schema.names).cast(schema)
    return out
