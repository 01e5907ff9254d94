"""Account signals read from what an account does: dormancy then reactivation, the hours it is active against
the place it claims (and its profile settings), automation clients, regular intervals and reposting.

Why a module of its own: these signals read the per-account aggregates of posts and engagements that
:class:`~echoscope.accounts.context.SignalContext` computes once (``pagg``, ``eagg``, ``lagg``), and judge an
account against its own behaviour and the thresholds of
:class:`~echoscope.accounts.context.SignalParams`. ``profile_mismatch`` sits here beside
``timezone_mismatch`` because both compare a claimed place with a clock, though it reads the profile only.
Signals judged against what the account amplifies and against the study's population live in
:mod:`~echoscope.accounts.amplification_signals`; ``repost_latency`` here is the plain fact (median seconds to
repost), shown for context and given no rule weight: fans repost their idols within a minute.
"""

from __future__ import annotations

import pyarrow as pa

from .context import SignalContext, fmt_int, ramp


# ------------------------------------------------------------------------------------------- behaviour
def dormancy_hijack(ctx: SignalContext) -> pa.Table:
    """A long silence, then a burst of posts, with a switch of language, client or topic.

    The longest gap between two posts must reach ``silence_days``; after it the account must post at least
    ``reactivation_posts`` times, at ``reactivation_rate_ratio`` times its own earlier rate or more (rates per
    day, each measured over at least ``rate_min_days``). ``value`` is the silence in days. Strength 0.5 for
    silence + burst, plus 0.25 for each switch (dominant language, dominant client, no hashtag shared before and
    after), capped at 1.
    """
    p, t = ctx.params, ctx.t
    sil, md = p.silence_days * 86400.0, p.rate_min_days * 86400.0
    return ctx.run(f"""
    WITH r AS (SELECT account_id, gap_max AS gap, t_react AS t_r FROM {t('pagg')} WHERE gap_max >= {sil}),
    pp AS (SELECT p.account_id, epoch(p.created_at) AS ts, p.lang, p.client, p.hashtags, r.t_r, r.gap,
                  epoch(p.created_at) < r.t_r AS before
           FROM posts p JOIN r USING (account_id) WHERE p.created_at IS NOT NULL),
    a AS (SELECT account_id, any_value(gap) AS gap,
                 count(*) FILTER (WHERE before) AS n0, count(*) FILTER (WHERE NOT before) AS n1,
                 greatest(max(ts) FILTER (WHERE before) - min(ts), {md}) / 86400.0 AS d0,
                 greatest(max(ts) - any_value(t_r), {md}) / 86400.0 AS d1,
                 (max(ts) - any_value(t_r)) / 86400.0 AS span1,
                 mode(lang) FILTER (WHERE before) AS lang0, mode(lang) FILTER (WHERE NOT before) AS lang1,
                 mode(client) FILTER (WHERE before) AS client0, mode(client) FILTER (WHERE NOT before) AS client1,
                 list_distinct(flatten(list(hashtags) FILTER (WHERE before AND hashtags IS NOT NULL))) AS tags0,
                 list_distinct(flatten(list(hashtags) FILTER (WHERE NOT before AND hashtags IS NOT NULL))) AS tags1
          FROM pp GROUP BY account_id),
    s AS (SELECT *, (n1 / d1) / (n0 / d0) AS ratio,
                 n1 >= {p.reactivation_posts} AND (n1 / d1) >= {p.reactivation_rate_ratio} * (n0 / d0) AS burst,
                 lang0 IS DISTINCT FROM lang1 AND lang0 IS NOT NULL AND lang1 IS NOT NULL AS sw_lang,
                 client0 IS DISTINCT FROM client1 AND client0 IS NOT NULL AND client1 IS NOT NULL AS sw_client,
                 COALESCE(len(tags0) > 0 AND len(tags1) > 0 AND len(list_intersect(tags0, tags1)) = 0, false)
                   AS sw_topic
          FROM a)
    SELECT account_id, gap / 86400.0 AS value,
           CASE WHEN burst THEN least(1.0, 0.5 + 0.25 * (sw_lang::INT + sw_client::INT + sw_topic::INT))
                ELSE 0.0 END AS strength,
           CASE WHEN burst THEN 'silent ' || printf('%.0f', gap / 86400.0) || ' days, then '
                || {fmt_int('n1')} || ' posts in ' || printf('%.0f', span1) || ' days ('
                || printf('%.1f', ratio) || 'x its earlier rate)'
                || CASE WHEN sw_lang THEN '; language ' || lang0 || ' -> ' || lang1 ELSE '' END
                || CASE WHEN sw_client THEN '; client ' || client0 || ' -> ' || client1 ELSE '' END
                || CASE WHEN sw_topic THEN '; hashtags #' || tags0[1] || ' -> #' || tags1[1] ELSE '' END
           END AS text
    FROM s""")


def timezone_mismatch(ctx: SignalContext) -> pa.Table:
    """Claimed location versus the hours the account is active, with the inferred UTC offset.

    The 5-hour UTC windows with the fewest posts are the account's night; the circular mean of their centres
    is taken as 03:00 local time (the middle of a 23:00-07:00 night), so the inferred offset is
    ``3 - centre`` hours (mod 24, in -12..+12, to half an hour). ``value`` is that offset for every account
    with at least ``min_posts_behaviour`` posts of its own timing; strength grows from 0 at ``tz_tolerance_h`` to
    1 at 4 hours beyond it when the location names a known place (:data:`PLACE_OFFSETS`). Someone who posts only
    in office hours looks about 2 hours further east than they are; the tolerance absorbs that and daylight
    saving. Reposts made within ``reactive_s`` of their original are left out: their hour is the original
    author's (a fan reposting its idol the minute the idol posts keeps the idol's clock, and on the realistic
    simulator that made a fan look like a sleeper hours away from its own place).
    """
    p, t = ctx.params, ctx.t
    # the 24 five-hour windows (w0 = hours 0-4 UTC, ...) from the hour histogram h0..h23 of the posts, their
    # minimum and the circular mean of the centres of the windows at that minimum, as plain column arithmetic.
    # The mean vector is rounded to 12 decimals: when the quiet windows sit on opposite sides of the clock it is
    # ~1e-17 long and its direction would be rounding noise; rounded, it is (0, 0) and the centre reads 00:00.
    # hours of the account's own timing: all its posts minus its reposts made within reactive_s of the original
    own = [f"h{h} - COALESCE(f.f{h}, 0)" for h in range(24)]
    wins = [" + ".join(f"({own[(k + j) % 24]})" for j in range(5)) for k in range(24)]
    win = ", ".join(f"{x} AS w{k}" for k, x in enumerate(wins))
    wlist = ", ".join(f"w{k}" for k in range(24))
    cnt = " + ".join(f"(w{k} = qn)::INT" for k in range(24))
    sins = " + ".join(f"CASE WHEN w{k} = qn THEN sin(2 * pi() * {k + 2.5} / 24) ELSE 0 END" for k in range(24))
    coss = " + ".join(f"CASE WHEN w{k} = qn THEN cos(2 * pi() * {k + 2.5} / 24) ELSE 0 END" for k in range(24))
    return ctx.run(f"""
    WITH w AS (SELECT account_id, n - COALESCE(f.nf, 0) AS total, {win} FROM {t('pagg')}
               LEFT JOIN {t('fagg')} f USING (account_id) WHERE n - COALESCE(f.nf, 0) >= {p.min_posts_behaviour}),
    q AS (SELECT *, least({wlist}) AS qn FROM w),
    c AS (SELECT account_id, total, qn,
                 (atan2(round(({sins}) / ({cnt}), 12), round(({coss}) / ({cnt}), 12)) * 24 / (2 * pi()) + 24)
                 % 24 AS centre
          FROM q),
    inf AS (SELECT *, round((((3 - centre) % 24 + 36) % 24 - 12) * 2) / 2 AS off FROM c),
    -- a claimed place is looked up once per distinct location string, not once per account
    locs AS (SELECT l.location, arg_max(pl.utc_offset, length(pl.place)) AS claimed
             FROM (SELECT DISTINCT a.location FROM {t('acc')} a JOIN inf USING (account_id)
                   WHERE a.location IS NOT NULL) l
             JOIN {t('places')} pl ON regexp_matches(lower(l.location), '\\b' || pl.place || '\\b')
             GROUP BY l.location),
    loc AS (SELECT a.account_id, a.location, locs.claimed FROM {t('acc')} a JOIN inf USING (account_id)
            JOIN locs USING (location)),
    d AS (SELECT inf.*, loc.location, loc.claimed,
                 least(abs(inf.off - loc.claimed), 24 - abs(inf.off - loc.claimed)) AS diff
          FROM inf LEFT JOIN loc USING (account_id))
    SELECT account_id, off::DOUBLE AS value,
           CASE WHEN diff IS NULL THEN 0.0 ELSE {ramp('diff', p.tz_tolerance_h, p.tz_tolerance_h + 4)} END AS strength,
           CASE WHEN diff > {p.tz_tolerance_h} THEN 'claims ''' || location || ''' (UTC' || printf('%+g', claimed)
                || ') but its quietest hours centre on ' || printf('%02d:%02d', (round(centre * 60)::INT // 60) % 24,
                   round(centre * 60)::INT % 60)
                || ' UTC, like a sleeper at UTC' || printf('%+g', off) || ' (' || printf('%g', diff)
                || ' h apart; ' || {fmt_int('total')} || ' posts)' END AS text
    FROM d""")


def profile_mismatch(ctx: SignalContext) -> pa.Table:
    """Profile-only impersonation check: the claimed location against the profile's time-zone setting and its
    interface language.

    Needs no posts: a persona that claims 'USA' but set its profile clock to Volgograd, or reads the platform in
    Russian, says where it is run from in its own profile. The claimed place is the longest known place name
    (:data:`PLACE_OFFSETS`, words and word pairs of ``location``); the time zone is the profile setting
    (``time_zone``, names of :data:`TZ_NAME_OFFSETS`). ``value`` is the hours between the claimed place and the
    profile time zone (null without a known time zone); strength grows from 0 at ``tz_tolerance_h`` to 1 at 4 hours
    beyond it, as in :func:`timezone_mismatch`. An interface language (``language``, e.g. 'ru' or 'en-gb') that
    is neither English nor a local language of the claimed place (:data:`PLACE_LANGUAGES`) gives strength 0.5:
    expatriates and immigrants keep their own language, so it is the weaker half of the evidence.
    """
    p, t = ctx.params, ctx.t
    return ctx.run(f"""
    WITH a AS (SELECT account_id, location, lower(split_part(language, '-', 1)) AS lang, time_zone FROM {t('acc')}
               WHERE location IS NOT NULL AND (time_zone IS NOT NULL OR lower(split_part(language, '-', 1)) <> 'en')),
    -- places are matched on words and word pairs of each distinct location (a hash join, not a regular
    -- expression per place and location)
    toks AS (SELECT location, list_filter(regexp_split_to_array(lower(location), '[^a-z]+'), x -> x <> '') AS w
             FROM (SELECT DISTINCT location FROM a)),
    grams AS (SELECT location, unnest(list_concat(w, list_transform(range(1, len(w)), i -> w[i] || ' ' || w[i + 1])))
                     AS g FROM toks),
    locs AS (SELECT g.location, arg_max(pl.utc_offset, length(pl.place)) AS claimed,
                    arg_max(pl.langs, length(pl.place)) AS langs
             FROM grams g JOIN {t('places')} pl ON pl.place = g.g GROUP BY g.location),
    d AS (SELECT a.account_id, a.location, a.lang, a.time_zone, locs.claimed, tz.utc_offset AS tz_off,
                 least(abs(tz.utc_offset - locs.claimed), 24 - abs(tz.utc_offset - locs.claimed)) AS diff,
                 COALESCE(a.lang <> '' AND NOT list_contains(locs.langs, a.lang), false) AS lang_mis
          FROM a JOIN locs USING (location)
          LEFT JOIN {t('tzn')} tz ON tz.tz_name = lower(trim(a.time_zone))),
    s AS (SELECT *, greatest(COALESCE({ramp('diff', p.tz_tolerance_h, p.tz_tolerance_h + 4)}, 0.0),
                             CASE WHEN lang_mis THEN 0.5 ELSE 0.0 END) AS strength FROM d)
    SELECT account_id, diff AS value, strength,
           CASE WHEN strength > 0 THEN 'claims ''' || location || ''' (UTC' || printf('%+g', claimed) || ')'
                || CASE WHEN diff > {p.tz_tolerance_h} THEN ' but its profile time zone is ''' || time_zone
                        || ''' (UTC' || printf('%+g', tz_off) || ', ' || printf('%g', diff) || ' h apart)' ELSE '' END
                || CASE WHEN lang_mis THEN CASE WHEN diff > {p.tz_tolerance_h} THEN ' and' ELSE ' but' END
                        || ' its interface language is ''' || lang || '''' ELSE '' END END AS text
    FROM s""")


def automation_client(ctx: SignalContext) -> pa.Table:
    """Share of posts sent from automation clients (:data:`AUTOMATION_CLIENTS`); strength = share, from 5 posts."""
    return ctx.run(f"""
    WITH c AS (SELECT account_id, n_client AS n, n_auto AS auto, top_auto AS top FROM {ctx.t('pagg')}
               WHERE n_client > 0)
    SELECT account_id, auto / n::DOUBLE AS value,
           CASE WHEN n >= 5 THEN auto / n::DOUBLE ELSE 0.0 END AS strength,
           CASE WHEN n >= 5 AND auto > 0 THEN printf('%.0f', 100.0 * auto / n) || '% of ' || {fmt_int('n')}
                || ' posts from automation client ''' || top || '''' END AS text
    FROM c""")


def regular_intervals(ctx: SignalContext) -> pa.Table:
    """Near-constant time between posts: coefficient of variation (std / mean) of the intervals.

    Needs ``min_posts_behaviour`` posts; strength 1 at CV 0.1 or below, 0 from 0.5 (people post in bursts,
    CV well above 1).
    """
    p = ctx.params
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n_gap AS n, gap_mean AS m, gap_sd AS sd FROM {ctx.t('pagg')}
               WHERE n_gap >= {p.min_posts_behaviour - 1} AND gap_mean > 0)
    SELECT account_id, sd / m AS value, {ramp('sd / m', 0.5, 0.1)} AS strength,
           CASE WHEN sd / m < 0.5 THEN 'posts every ' || {fmt_int('m')} || ' s +/- '
                || printf('%.0f', 100 * sd / m) || '% (coefficient of variation ' || printf('%.2f', sd / m)
                || ' over ' || {fmt_int('n')} || ' intervals)' END AS text
    FROM s""")


def repost_share(ctx: SignalContext) -> pa.Table:
    """Share of posts that are reposts; strength from 80% (0) to 100% (1), from ``min_posts_behaviour`` posts."""
    p = ctx.params
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n, n_repost AS r FROM {ctx.t('pagg')} WHERE n > 0)
    SELECT account_id, r / n::DOUBLE AS value,
           CASE WHEN n >= {p.min_posts_behaviour} THEN {ramp('r / n::DOUBLE', 0.8, 1.0)} ELSE 0.0 END AS strength,
           CASE WHEN n >= {p.min_posts_behaviour} AND r >= 0.8 * n THEN printf('%.0f', 100.0 * r / n) || '% of its '
                || {fmt_int('n')} || ' posts are reposts' END AS text
    FROM s""")


def repost_latency(ctx: SignalContext) -> pa.Table:
    """Median seconds from the original post to the account's repost (rapid-fire amplification).

    A fact, not a judgement: it has no rule weight (fans repost their idols within a minute; the score judges
    speed against the same authors' other reposts, ``relative_latency``) and stays a feature of the supervised
    score. Needs 5 reposts with known latency; strength falls linearly from 1 at 0 s to 0 at five times
    ``fast_repost_s``, so with the default 60 s a median of 10 s gives 0.97 and one of 60 s gives 0.8.
    """
    f = ctx.params.fast_repost_s
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n_lat AS n, med_lat AS med, n_fast AS fast FROM {ctx.t('eagg')}
               WHERE n_lat >= 5)
    SELECT account_id, med AS value, {ramp('med', 5 * f, 0)} AS strength,
           CASE WHEN med <= {5 * f} THEN 'median repost latency ' || {fmt_int('med')} || ' s over '
                || {fmt_int('n')} || ' reposts (' || printf('%.0f', 100.0 * fast / n) || '% within {f:g} s)' END
    FROM s""")
