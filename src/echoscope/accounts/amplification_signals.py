"""Account signals judged against what the account amplifies and against the study's own population: speed
relative to the same authors' other amplifiers, the share of actions aimed at the targets, texts repeated word for
word by other accounts, and the automation assessment.

Why a module of its own: a fixed threshold on a behaviour flags whoever does it for honest reasons (Rauchfleisch &
Kaiser 2020). Reposting within a minute is what fans do for their idol; what marks a campaign account is
reposting a diplomat within seconds when the diplomat's other amplifiers take an hour. So every signal here is a
comparison whose reference is measured on the study itself -- the latencies of the other reposts of the same
authors, the study's pooled share of actions aimed at its targets, how many accounts post a text -- and its text
names that reference. They read the per-run tables of :class:`~echoscope.accounts.context.SignalContext` (``eng``:
the engagements with their latencies, materialised once; ``aim``; ``pagg``; ``eagg``), in DuckDB, one statement
each, so they run out of core at a million accounts.

Automation is not inauthentic amplification: ``automation`` is an assessment (news aggregators and other
independent automated accounts say so by their clients, their clocks, their constant latencies and their few
sources) that names an account as automated. It has no rule weight; the run uses it to describe each account
(``account_scores.kind``) and to keep automated accounts that do not amplify the targets off the high-risk list.
"""

from __future__ import annotations

import math

import pyarrow as pa

from .context import SignalContext, fmt_int, ramp


def fmt_dur(expr: str) -> str:
    """SQL: a duration in seconds as words ('9 s', '14 min', '2.5 h', '3.0 days')."""
    return (f"CASE WHEN ({expr}) < 120 THEN printf('%.0f s', {expr}) WHEN ({expr}) < 7200 "
            f"THEN printf('%.0f min', ({expr}) / 60) WHEN ({expr}) < 172800 THEN printf('%.1f h', ({expr}) / 3600) "
            f"ELSE printf('%.1f days', ({expr}) / 86400) END")


def relative_latency(ctx: SignalContext) -> pa.Table:
    """How much sooner the account reposts than the same authors' posts are usually reposted in the study.

    Each repost -- and each post linking a page a target linked, timed from the target's post -- is compared with
    the median latency of all reposts of the same author's posts in the study
    (authors reposted by at least ``peer_min_accounts`` accounts; the account's own reposts are part of that
    median, which only makes the comparison more cautious): ``d = ln(c + latency) - median(ln(c + latency))``
    with ``c = latency_offset_s``. The account's value is ``exp(-median(d))`` over its reposts: how many times
    sooner it reposts than the typical repost of the authors it amplifies (a fan reposting an idol within 15 s
    is as fast as the idol's other fans, about 1x; a campaign account reposting a diplomat in 9 s when the
    diplomat's reposts take 40 minutes, about 100x). Strength needs both an effect and evidence: a ramp of the
    factor from ``peer_factor_lo`` to ``peer_factor_hi``, times a ramp of ``-z`` from ``peer_z_lo`` to
    ``peer_z_hi``, where ``z = median(d) * sqrt(n) / (1.2533 * spread)`` and ``spread`` is the study's own robust
    spread of ``d`` (1.4826 x the median of ``|d|`` over every judged repost): an ordinary account with few
    reposts is often quick by chance, one with many is not. From ``peer_min_reposts`` judged reposts.
    """
    p, t = ctx.params, ctx.t
    c = float(p.latency_offset_s)
    lo, hi = math.log(p.peer_factor_lo), math.log(p.peer_factor_hi)
    return ctx.run(f"""
    WITH r AS MATERIALIZED (
      SELECT actor_id, subject_account_id AS author, ln({c} + latency_s) AS ll FROM {t('eng')}
      WHERE kind = 'repost' AND latency_s >= 0 AND subject_account_id IS NOT NULL AND actor_id <> subject_account_id),
    au AS (SELECT author, median(ll) AS m FROM r GROUP BY author
           HAVING approx_count_distinct(actor_id) >= {int(p.peer_min_accounts)}),
    -- judged: the reposts, and the posts linking a page a target linked (a share of the target's post)
    j AS (SELECT actor_id, author, ll FROM r
          UNION ALL SELECT actor_id, subject_account_id, ln({c} + latency_s) FROM {t('lshare')} WHERE latency_s >= 0),
    d AS MATERIALIZED (SELECT j.actor_id, j.ll, j.ll - au.m AS d, au.m FROM j JOIN au USING (author)),
    spread AS (SELECT greatest(1.4826 * median(abs(d)), 1e-6) AS sd FROM d),
    a AS (SELECT actor_id AS account_id, count(*) AS n, median(d) AS md FROM d GROUP BY actor_id
          HAVING count(*) >= {int(p.peer_min_reposts)}),
    z AS (SELECT a.*, md * sqrt(n) / (1.2533 * spread.sd) AS z,
                 {ramp('-md', lo, hi)} * {ramp('-(md * sqrt(n) / (1.2533 * spread.sd))', p.peer_z_lo, p.peer_z_hi)}
                   AS strength
          FROM a, spread),
    -- the latencies named in the text, only for the accounts that get a strength (a median per account is the
    -- costly part at ten million reposts)
    x AS (SELECT d.actor_id AS account_id, median(d.ll) AS ml, median(d.m) AS mm FROM d
          SEMI JOIN (SELECT account_id FROM z WHERE strength > 0) f ON f.account_id = d.actor_id GROUP BY d.actor_id)
    SELECT account_id, exp(-md) AS value, strength,
           CASE WHEN strength > 0 THEN 'its ' || {fmt_int('n')} || ' reposts and link shares came a median '
                || printf('%.0f', exp(-md)) || 'x sooner than the reposts of the same authors usually do (its median '
                || {fmt_dur(f'exp(ml) - {c}')} || ', theirs ' || {fmt_dur(f'exp(mm) - {c}')} || '; '
                || printf('%.0f', -z) || ' standard errors beyond the study''s spread)' END AS text
    FROM z LEFT JOIN x USING (account_id)""")


def amplification_role(ctx: SignalContext) -> pa.Table:
    """Share of the account's actions (posts and likes) aimed at the study's targets, against the study's share.

    Aimed at the targets: engaging a target's post, mentioning a target, or linking a page a target linked
    (``aim`` of :class:`~echoscope.accounts.context.SignalContext`). ``value`` is the account's share. The study's
    pooled share ``p0`` (over every account but the targets) is the reference: the share is shrunk toward ``p0``
    by ``aim_prior`` pseudo-actions, and its excess ``(share - p0) / (1 - p0)`` gives strength 0 at
    ``aim_excess_lo`` and 1 at ``aim_excess_hi``. From 10 actions. A study whose pooled share exceeds
    ``aim_max_study_share`` was collected around its targets (everyone aims at them): the share is not judged
    there, and a note says so. The targets themselves are not judged (they amplify each other openly).

    Without targets: the share of actions that engage with others (reposts, replies, quotes, likes) rather than
    original posts, at half strength from 50% to 100%.
    """
    p, t = ctx.params, ctx.t
    if not ctx.has_targets:
        return ctx.run(f"""
        WITH s AS (SELECT a.account_id, a.n_act AS n, COALESCE(e.n_eng, 0) / a.n_act::DOUBLE AS share
                   FROM {t('aim')} a LEFT JOIN {t('eagg')} e USING (account_id) WHERE a.n_act > 0)
        SELECT account_id, share AS value, CASE WHEN n >= 10 THEN 0.5 * {ramp('share', 0.5, 1.0)} ELSE 0.0 END,
               CASE WHEN n >= 10 AND share > 0.5 THEN printf('%.0f', 100 * share) || '% of its ' || {fmt_int('n')}
                    || ' actions engage with other accounts'' posts' END
        FROM s""")
    p0 = ctx.con.execute(f"""SELECT sum(n_aim)::DOUBLE / greatest(sum(n_act), 1) FROM {t('aim')}
                             WHERE account_id NOT IN (SELECT account_id FROM {t('tgt')})""").fetchone()[0] or 0.0
    judged = p0 <= p.aim_max_study_share
    if not judged:
        ctx.notes.append(f"{100 * p0:.0f}% of the study's actions aim at its targets (a collection built around "
                         "them): amplification_role is not judged")
    m = float(p.aim_prior)
    excess = f"((n_aim + {m} * {p0!r}) / (n_act + {m}) - {p0!r}) / {max(1.0 - p0, 1e-9)!r}"
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n_act AS n, n_aim AS k, n_aim / n_act::DOUBLE AS share, {excess} AS excess
               FROM {t('aim')} WHERE n_act > 0),
    g AS (SELECT *, CASE WHEN {judged} AND n >= 10 AND account_id NOT IN (SELECT account_id FROM {t('tgt')})
                         THEN {ramp('excess', p.aim_excess_lo, p.aim_excess_hi)} ELSE 0.0 END AS strength FROM s)
    SELECT account_id, share AS value, strength,
           CASE WHEN strength > 0 THEN printf('%.0f', 100 * share) || '% of its ' || {fmt_int('n')}
                || ' actions aim at the study''s targets (reposts, replies, likes, mentions or their links; '
                || printf('%.0f', {100 * p0!r}) || '% of the study''s actions do)' END AS text
    FROM g""")


def duplicate_text(ctx: SignalContext) -> pa.Table:
    """Texts the account posted that other accounts posted word for word: templates, copy-paste, praise brigades.

    Texts of originals, replies and quotes are compared with mentions, links, digits, punctuation, emoji and
    spaces removed (letters only, any script, case-folded), from ``dup_min_letters`` bytes of letters in UTF-8, so
    that short replies ('thank you') do not count while four Chinese characters (12 bytes) do. A text posted by
    more than ``max(50, 0.1% of the accounts)`` accounts is a common phrase (a slogan, a meme) and fades out,
    reaching 0 at ten times that. ``value`` is the share of the account's texts repeated by others; strength
    from ``dup_share_lo`` to ``dup_share_hi``, from ``dup_min_posts`` repeated texts.
    """
    p, t = ctx.params, ctx.t
    return ctx.run(f"""
    WITH tx AS MATERIALIZED (
      SELECT account_id, text,
             regexp_replace(lower(text), '(@\\w+|https?://\\S+|[^\\p{{L}}]+)', '', 'g') AS k
      FROM posts WHERE kind IN ('original', 'reply', 'quote') AND text IS NOT NULL),
    q AS (SELECT account_id, text, k FROM tx WHERE strlen(k) >= {int(p.dup_min_letters)}),
    cap AS (SELECT greatest(50, 0.001 * count(*)) AS cap FROM {t('ids')}),
    g AS (SELECT k, count(DISTINCT account_id) AS na FROM q GROUP BY k HAVING count(DISTINCT account_id) > 1),
    w AS (SELECT g.k, g.na, {ramp('g.na', '10 * cap.cap', 'cap.cap')} AS wt FROM g, cap),
    a AS (SELECT q.account_id, count(*) AS n, count(w.k) AS n_dup, COALESCE(sum(w.wt), 0) AS n_w,
                 max(w.na) - 1 AS others, arg_max(q.text, w.na) FILTER (WHERE w.k IS NOT NULL) AS ex
          FROM q LEFT JOIN w USING (k) GROUP BY q.account_id),
    s AS (SELECT *, n_w / n AS share,
                 CASE WHEN n_dup >= {int(p.dup_min_posts)} THEN {ramp('n_w / n', p.dup_share_lo, p.dup_share_hi)}
                      ELSE 0.0 END AS strength FROM a)
    SELECT account_id, share AS value, strength,
           CASE WHEN strength > 0 THEN {fmt_int('n_dup')} || ' of its ' || {fmt_int('n')}
                || ' texts repeat word for word what other accounts posted (up to ' || {fmt_int('others')}
                || ' others for one text; e.g. ''' || left(regexp_replace(ex, '\\s+', ' ', 'g'), 80)
                || CASE WHEN length(ex) > 80 THEN '...' ELSE '' END || ''')' END AS text
    FROM s""")


def automation(ctx: SignalContext) -> pa.Table:
    """The automation assessment: signs that a program, not a person, posts for the account.

    Signs (thresholds in :class:`~echoscope.accounts.context.SignalParams`):

    * ``client``: at least ``auto_client_share`` of its posts from automation clients (from 5 posts);
    * ``sources``: at least ``auto_sources_share`` of its posts are reposts of its ``auto_sources_k`` most reposted
      accounts;
    * ``coverage``: it reposted at least ``auto_coverage`` of the posts its most reposted account made while it was
      active (a feed reposts every post; a fan reposts the posts it sees, about a quarter);
    * ``latency``: near-constant repost latency (the middle half of its latencies within a factor
      ``exp(auto_latency_iqr)``);
    * ``clock``: activity around the clock (the quietest six hours of the day, in UTC, hold at least
      ``auto_clock_share`` of the share an even spread gives them, from 50 posts; people sleep);
    * ``intervals``: regular intervals (coefficient of variation at most ``auto_interval_cv``).

    All but ``client`` and ``clock`` need ``auto_min_posts`` posts (reposts of that account for ``coverage``,
    reposts for ``latency``). Automated: the client sign alone, or any two others. ``value`` is the number of
    signs; strength 1 when automated. The signal has no rule weight (automation is not inauthentic amplification);
    the run names automated accounts in ``account_scores.automated`` and ``kind``.
    """
    p, t = ctx.params, ctx.t
    c = float(p.latency_offset_s)
    k = int(p.auto_sources_k)
    wins = [" + ".join(f"h{(s + j) % 24}" for j in range(6)) for s in range(24)]
    quiet = f"least({', '.join(wins)})"
    mp = int(p.auto_min_posts)
    return ctx.run(f"""
    WITH cand AS (SELECT account_id, first, last FROM {t('pagg')}
                  WHERE n >= {mp} AND n_repost >= {p.auto_sources_share} * n),
    pairs AS (SELECT e.actor_id AS account_id, e.subject_account_id, count(*) AS c FROM {t('eng')} e
              JOIN cand ON cand.account_id = e.actor_id WHERE e.kind = 'repost' AND e.subject_account_id IS NOT NULL
              GROUP BY ALL),
    src AS (SELECT account_id, list_sum(list_reverse_sort(list(c))[1:{k}]) AS top_k, least(count(*), {k}) AS k,
                   arg_max(subject_account_id, struct_pack(c := c, a := subject_account_id)) AS top_src, max(c) AS top_c
            FROM pairs GROUP BY account_id),
    -- the posts (that can be reposted) of each top source, counted by time, and how many it made while the
    -- account was active: running counts read by ASOF joins
    tp AS MATERIALIZED (SELECT p.account_id AS top_src, epoch(p.created_at) AS ts,
                               row_number() OVER (PARTITION BY p.account_id ORDER BY p.created_at) AS cum
                        FROM posts p SEMI JOIN (SELECT DISTINCT top_src FROM src WHERE top_c >= {mp}) x
                          ON x.top_src = p.account_id
                        WHERE p.kind <> 'repost' AND p.created_at IS NOT NULL),
    w AS (SELECT src.account_id, src.top_src, epoch(cand.first) AS t0, epoch(cand.last) AS t1
          FROM src JOIN cand USING (account_id) WHERE src.top_c >= {mp}),
    cov AS (SELECT w.account_id, COALESCE(hi.cum, 0) - COALESCE(lo.cum, 0) AS n_src
            FROM w ASOF LEFT JOIN tp hi ON w.top_src = hi.top_src AND w.t1 >= hi.ts
            ASOF LEFT JOIN tp lo ON w.top_src = lo.top_src AND w.t0 > lo.ts),
    b AS (SELECT g.account_id, g.n, g.n_client, g.n_auto, g.top_auto, g.n_gap, g.gap_mean, g.gap_sd,
                 {quiet} AS quiet, e.n_lat, e.q1_lat, e.q3_lat, src.top_k, src.k, src.top_c, cov.n_src,
                 a.handle AS src_handle, src.top_src
          FROM {t('pagg')} g LEFT JOIN {t('eagg')} e USING (account_id) LEFT JOIN src USING (account_id)
          LEFT JOIN cov USING (account_id) LEFT JOIN {t('acc')} a ON a.account_id = src.top_src),
    s AS (SELECT *,
                 n_client >= 5 AND n_auto >= {p.auto_client_share} * n_client AS s_client,
                 n >= 50 AND quiet >= {p.auto_clock_share} * 0.25 * n AS s_clock,
                 COALESCE(n_lat >= {mp} AND ln({c} + q3_lat) - ln({c} + q1_lat) <= {p.auto_latency_iqr}, false)
                   AS s_lat,
                 COALESCE(n >= {mp} AND top_k >= {p.auto_sources_share} * n, false) AS s_src,
                 COALESCE(top_c >= {mp} AND n_src > 0 AND top_c >= {p.auto_coverage} * n_src, false) AS s_cov,
                 COALESCE(n_gap >= {mp - 1} AND gap_mean > 0 AND gap_sd <= {p.auto_interval_cv} * gap_mean, false)
                   AS s_int
          FROM b),
    v AS (SELECT *, s_clock::INT + s_lat::INT + s_src::INT + s_cov::INT + s_int::INT AS others FROM s)
    SELECT account_id, (s_client::INT + others)::DOUBLE AS value,
           CASE WHEN s_client OR others >= 2 THEN 1.0 ELSE 0.0 END AS strength,
           CASE WHEN s_client OR others >= 2 THEN 'automated: ' || concat_ws('; ',
                CASE WHEN s_client THEN printf('%.0f', 100.0 * n_auto / n_client) || '% of its posts from automation '
                     || 'client ''' || top_auto || '''' END,
                CASE WHEN s_src THEN printf('%.0f', 100.0 * top_k / n) || '% of its ' || {fmt_int('n')}
                     || ' posts are reposts of ' || k || ' account' || CASE WHEN k > 1 THEN 's' ELSE '' END END,
                CASE WHEN s_cov THEN 'reposted ' || printf('%.0f', 100.0 * least(top_c, n_src) / n_src)
                     || '% of the ' || {fmt_int('n_src')} || ' posts @' || COALESCE(src_handle, top_src)
                     || ' made while it was active' END,
                CASE WHEN s_lat THEN 'near-constant repost latency (half of its ' || {fmt_int('n_lat')}
                     || ' reposts within ' || {fmt_dur('q1_lat')} || ' to ' || {fmt_dur('q3_lat')} || ')' END,
                CASE WHEN s_clock THEN 'active around the clock (its quietest 6 hours hold '
                     || printf('%.0f', 100.0 * quiet / n) || '% of its ' || {fmt_int('n')} || ' posts)' END,
                CASE WHEN s_int THEN 'posts every ' || {fmt_dur('gap_mean')} || ' +/- '
                     || printf('%.0f', 100 * gap_sd / gap_mean) || '%' END) END AS text
    FROM v""")


__all__ = ["amplification_role", "automation", "duplicate_text", "fmt_dur", "relative_latency"]
