"""Every measure as engine-neutral Ibis expressions: the definition Spark runs and the DuckDB plan is tested against.

Why the module is shaped so: every number is defined once as an Ibis expression over the study's
``engagements``, ``targets``, ``posts`` and ``account_status`` (plus the optional result tables
``coord_members`` and ``account_scores``, read through the rules of :mod:`.definitions`) in :func:`summary`.
Spark runs those expressions (materialising intermediates); on DuckDB they are the reference the faster SQL plan
(:mod:`.duckdb_plan`) must equal table for table (tests/test_measures_plan.py runs both on one connection,
tests/test_measures_spark.py compares the engines).

Determinism across engines: ranks break ties by ``actor_id``; sums are integer sums; every ratio is formed
from integer sums the same way on both engines; null ordering is never relied on (the final sort happens in
Arrow, :mod:`.result`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from .definitions import (
    KIND_COLUMNS,
    LATENCY_BANDS,
    LATENCY_EDGES,
    LATENCY_QUANTILES,
    SCOPES,
    SUSPENDED_STATUSES,
    FlagRule,
    Params,
    flag_rules,
    latency_column,
)

_SEP = "\x1f"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


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


def _share(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), _null("float64"))


def _top_m(amp: ir.IntegerValue, k: float) -> ir.IntegerValue:
    """max(1, ceil(k * amplifiers)); the small epsilon keeps 0.01 * 300 from rounding up to 4."""
    m = (amp * k - 1e-9).ceil().cast("int64")
    return ibis.greatest(m, 1)


def latency_bin(lat: ir.NumericValue) -> ir.IntegerValue:
    """Bin of a known latency in :data:`LATENCY_EDGES` (closed on the right, bin 0 holds 0)."""
    last = len(LATENCY_EDGES) - 1
    return ibis.cases(*((lat <= edge, i) for i, edge in enumerate(LATENCY_EDGES[1:])), else_=last).cast("int64")


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


def flagged_accounts(con: Any, rule: FlagRule | None, name: str) -> ir.Table | None:
    """Accounts a :class:`FlagRule` marks, one column ``name``; None when the rule's table does not exist."""
    if rule is None:
        return None
    t = con.table(rule.table)
    if rule.column is not None:
        t = t.filter(t[rule.column].fill_null(False))
    elif rule.threshold is not None:
        t = t.filter(t.score >= rule.threshold)
    return t.select(**{name: t.account_id}).distinct()


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


def _actor_week(e: ir.Table, seq: ir.Table) -> ir.Table:
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
    of a union of six copies), which matters for compile time on both engines and for Spark's planner. Rows
    with a null week get no weekly keys (so a table of whole-period rows gets whole-period keys only).
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


def _expand(a: ir.Table, cols: tuple[str, ...]) -> ir.Table:
    """Roll a (target, group, week, ...) table up to the six scope keys, summing ``cols``; every other column
    (e.g. ``actor_id`` and its attributes) is kept as a grouping key."""
    keep = [c for c in a.columns if c not in cols and c not in ("target", "group", "week")]
    x = _scoped(a)
    g = x.group_by(["scope", "target", "group", "week", *keep]).aggregate(**{c: x[c].sum() for c in cols})
    return g.select("scope", "target", "group", "week", *keep, *cols)


def _expand_keys(tg: ir.Table) -> ir.Table:
    """Whole-period keys for every target, its group and the study (so silent targets still get a row)."""
    t = tg.select(scope=ibis.literal("target"), target=tg.account_id, group=tg.group, week=_null("date"))
    g = tg.filter(tg.group.notnull())
    g = g.select(scope=ibis.literal("group"), target=_null("string"), group=g.group, week=_null("date"))
    s = tg.select(scope=ibis.literal("study"), target=_null("string"), group=_null("string"), week=_null("date"))
    return ibis.union(t, g, s, distinct=True)


def per_scope_actor(e: ir.Table, seq: ir.Table, con: Any, rules: dict[str, FlagRule | None],
                    cache: bool = False) -> ir.Table:
    """One row per (scope key, amplifier) with counts, amplifier attributes and the amplifier's rank."""
    a = _actor_week(e, seq)
    st = latest_status(con)
    a = a.left_join(st, a.actor_id == st.status_account).drop("status_account")
    for col, name in (("coordinated", "coord_account"), ("high_risk", "risk_account")):
        flagged = flagged_accounts(con, rules[col], name)
        if flagged is not None:
            a = a.left_join(flagged, a.actor_id == flagged[name])
            a = a.mutate(**{col: a[name].notnull()}).drop(name)
        else:
            a = a.mutate(**{col: _null("boolean")})
    a = a.select("target", "group", "week", "actor_id", *_ATTRS, *_SUMS)
    if cache:
        a = a.cache()
    x = _expand(a, _SUMS)
    part = [x.scope, x.target, x.group, x.week]
    x = x.mutate(
        rank=ibis.row_number().over(group_by=part, order_by=[ibis.desc(x.n), x.actor_id]) + 1,
        n_amp=x.count().over(group_by=part), n_total=x.n.sum().over(group_by=part))
    return x


def latency_histogram(e: ir.Table, tg: ir.Table) -> ir.Table:
    """``amplification_latency``: engagements per :data:`LATENCY_EDGES` bin for every whole-period scope key
    (every bin of every target, group and the study, zeros included)."""
    k = e.filter(e.lat_known)
    k = k.mutate(bin=latency_bin(k.latency_s))
    h = k.group_by(["target", "group", "bin"]).aggregate(engagements=k.count())
    h = _expand(h.mutate(week=_null("date")), ("engagements",))
    h = h.select(h_key=_key(h, with_week=False), h_bin=h.bin, engagements=h.engagements)
    keys = _expand_keys(tg)
    keys = keys.mutate(bin=ibis.literal(list(range(len(LATENCY_EDGES))), type="array<int64>").unnest())
    keys = keys.mutate(key=_key(keys, with_week=False))
    j = keys.left_join(h, (keys.key == h.h_key) & (keys.bin == h.h_bin))
    handles = tg.select(h_target=tg.account_id, handle=tg.handle)
    j = j.left_join(handles, j.target == handles.h_target)
    start = ibis.cases(*((j.bin == i, ibis.literal(float(v), "float64")) for i, v in enumerate(LATENCY_EDGES)))
    end = ibis.cases(*((j.bin == i, ibis.literal(float(v), "float64")) for i, v in enumerate(LATENCY_EDGES[1:])),
                     else_=_null("float64"))
    return j.select(scope=j.scope, target=j.target, handle=j.handle, group=j.group, bin=j.bin,
                    bin_start_s=start.cast("float64"), bin_end_s=end.cast("float64"),
                    engagements=j.engagements.fill_null(0).cast("int64"))


def summary(con: Any, p: Params, *, rules: dict[str, FlagRule | None] | None = None,
            cache: bool = False) -> dict[str, ir.Table]:
    """All measures as expressions: ``summary``, ``superspreaders``, ``lorenz``, ``rapidfire``, ``latency``.

    ``rules`` (from :func:`~echoscope.measures.definitions.flag_rules`) say which accounts are coordinated and
    high risk; default: read from ``con``'s tables. ``cache`` materialises intermediate tables (for Spark).
    """
    rules = flag_rules(con, p) if rules is None else rules
    tg = targets(con, p)
    e = target_engagements(con, p, tg)
    if cache:
        e = e.cache()
    seq = rapid_sequences(e, p)
    if cache:
        seq = seq.cache()
    x = per_scope_actor(e, seq, con, rules, cache=cache)
    if cache:
        x = x.cache()

    susp = x.status.isin(list(SUSPENDED_STATUSES)).fill_null(False)
    unchecked = x.status.isnull() | (x.status == "unknown")
    flagged = (x.coordinated.fill_null(False) | x.high_risk.fill_null(False)) & ~susp
    aggs: dict[str, Any] = {
        "engagements": x.n.sum(),
        **{col: x[f"n_{col}"].sum() for col in KIND_COLUMNS.values()},
        "amplifiers": x.count(),
        "e_top": ibis.ifelse(x.rank <= _top_m(x.n_amp, p.top), x.n, 0).sum(),
        "e_top1": ibis.ifelse(x.rank <= _top_m(x.n_amp, 0.01), x.n, 0).sum(),
        "sum_ix": ((x.n_amp - x.rank + 1) * x.n).sum(),
        "e_suspended": ibis.ifelse(susp, x.n, 0).sum(),
        "e_susp_reposts": ibis.ifelse(susp, x.n_reposts, 0).sum(),
        "e_flagged": ibis.ifelse(flagged, x.n, 0).sum(),
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
    lat = e.filter(e.lat_known).select("target", "group", "week", latency_s=e.latency_s)
    lq = _scoped(lat).select("scope", "target", "group", "week", "latency_s")
    lq = lq.group_by(["scope", "target", "group", "week"]).aggregate(
        **{latency_column(q): lq.latency_s.quantile(q).round(6) for q in LATENCY_QUANTILES},
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
    po = _expand(po, ("posts", "posts_original"))
    po = po.mutate(k_posts=_key(po))
    if cache:
        po = po.cache()

    # label coverage (static: the same on every week of a scope)
    lb = tg.select(target=tg.account_id, group=tg.group, week=_null("date"), targets=ibis.literal(1).cast("int64"),
                   labelled_targets=_int(tg.label.notnull()))
    lb = _expand(lb, ("targets", "labelled_targets"))
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
    has_coord, has_risk = rules["coordinated"] is not None, rules["high_risk"] is not None
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
        engagements_suspended=z("e_suspended"),
        reposts_suspended=z("e_susp_reposts"),
        engagements_flagged=z("e_flagged") if has_coord or has_risk else _null("int64"),
        engagements_organic=n - z("e_suspended") - z("e_flagged"),
        status_checked_first=j.status_checked_first, status_checked_last=j.status_checked_last,
        top_k=ibis.literal(p.top).cast("float64"),
        top_share=_share(z("e_top"), n),
        top1_share=_share(z("e_top1"), n),
        top_amplifiers=ibis.ifelse(amp > 0, _top_m(amp, p.top), 0),
        top_engagements=z("e_top"),
        gini=ibis.ifelse(n > 0, 2.0 * z("sum_ix").cast("float64") / (amp.cast("float64") * n.cast("float64"))
                         - (amp.cast("float64") + 1.0) / amp.cast("float64"), _null("float64")),
        latency_known=z("latency_known"),
        **{f"share_within_{b}": _share(z(f"e_{b}"), z("latency_known")) for b in LATENCY_BANDS},
        **{latency_column(q): j[latency_column(q)] for q in LATENCY_QUANTILES},
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
    return {"summary": out, "superspreaders": ss, "lorenz": lz, "rapidfire": rf, "latency": latency_histogram(e, tg)}


__all__ = ["latency_bin", "latency_histogram", "latest_status", "per_scope_actor", "rapid_sequences", "summary",
           "target_engagements", "targets"]
