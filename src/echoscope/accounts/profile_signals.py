"""Account signals read from who an account says it is and when it was made: creation bursts, audience,
names and personas, profile images.

Why a module of its own: these signals need no posts. They are what still speaks in a study of profiles only
(the 454 IRA profiles, Gilani et al.'s accounts), and they judge an account against the other accounts (made
together, the same bio, the same image) rather than against its own activity. Each function takes a
:class:`~echoscope.accounts.context.SignalContext` and returns one table with
:data:`~echoscope.accounts.context.SIGNAL_SCHEMA`: value, strength in [0, 1] and the words a person reads.
"""

from __future__ import annotations

import pyarrow as pa

from .context import SIGNAL_SCHEMA, SignalContext, fmt_int, ramp


# ------------------------------------------------------------------------------------------- creation
def _burst_scale_sql(ctx: SignalContext, window_h: float, background_days: float, tag: str,
                     cap: float = 1.0) -> str:
    """SQL CTEs ``scored_<tag>``: per account and group, the accounts created within ``window_h`` hours, the
    number expected at the background rate of +-``background_days`` days around it, and the strength (at most
    ``cap``)."""
    p = ctx.params
    w, b = window_h * 3600.0, background_days * 86400.0
    return f"""
    ac_{tag} AS (SELECT account_id, ts, ts + {b} AS hb, ts - {b} AS lb, ts + {w} AS hw, ts - {w} AS lw FROM cr),
    -- accounts created within +-x of each account = (created at or before t + x) - (created before t - x), read
    -- from a running count by ASOF joins: a sort and a merge, where a RANGE window recounts every frame. The
    -- bounds are columns, not expressions in the join condition: with expressions DuckDB plans a nested loop.
    bg_{tag} AS (SELECT ac.account_id, hb.c - COALESCE(lb.c, 0) AS n_bg, hw.c - COALESCE(lw.c, 0) - 1 AS n_near
           FROM ac_{tag} ac
           ASOF LEFT JOIN cum hb ON ac.hb >= hb.ts
           ASOF LEFT JOIN cum lb ON ac.lb > lb.ts
           ASOF LEFT JOIN cum hw ON ac.hw >= hw.ts
           ASOF LEFT JOIN cum lw ON ac.lw > lw.ts),
    gt_{tag} AS (SELECT gt.*, gt.ts + {w} AS hw, gt.ts - {w} AS lw FROM gt),
    grp_{tag} AS (SELECT gt.account_id, gt.grp_label, hw.c - COALESCE(lw.c, 0) - 1 AS n_near, gt.g_size
            FROM gt_{tag} gt
            ASOF LEFT JOIN gcum hw ON gt.grp_kind = hw.grp_kind AND gt.grp_id = hw.grp_id AND gt.hw >= hw.ts
            ASOF LEFT JOIN gcum lw ON gt.grp_kind = lw.grp_kind AND gt.grp_id = lw.grp_id AND gt.lw > lw.ts),
    cand_{tag} AS (
      SELECT g.account_id, g.grp_label AS label, g.n_near, (g.g_size - 1) * (bg.n_bg / n.n) * ({w} / {b}) AS expected
      FROM grp_{tag} g JOIN bg_{tag} bg USING (account_id), n
      UNION ALL
      SELECT bg.account_id, 'accounts in the study', bg.n_near, (n.n - 1) * (bg.n_bg / n.n) * ({w} / {b})
      FROM bg_{tag} bg, n),
    scored_{tag} AS (
      SELECT *, {window_h:g}::DOUBLE AS wh, {background_days:g}::DOUBLE AS bd,
             CASE WHEN n_near >= {p.burst_min_accounts} AND n_near >= {p.burst_min_ratio} * expected
                  THEN {cap:g} * least(1.0, ln(n_near / greatest(expected, 1e-9)) / ln(100.0))
                       * least(1.0, n_near / {2.0 * p.burst_min_accounts})
                  ELSE 0.0 END AS strength
      FROM cand_{tag})"""


def creation_burst(ctx: SignalContext) -> pa.Table:
    """Accounts created together far above the background rate, within one group of amplifiers.

    For each account the number of other members of its group (the amplifiers of one target, one coordination
    cluster, or the whole study) created within ``burst_window_h`` hours is compared with the number expected
    at the background rate: the study's accounts created within ``burst_background_days`` days, scaled to the
    window. ``value`` is the count of accounts created together; ``strength`` grows with the excess ratio
    (log scale, 1 at 100x) and the count (1 at twice ``burst_min_accounts``). The group with the strongest burst
    is reported.

    A second time scale catches operations that register accounts in waves of days rather than in one
    sitting: the accounts created within ``wave_window_h`` hours against the rate of the surrounding
    ``wave_background_days`` days (a year, so the platform's growth and seasons average out; a local month-long
    background would be the wave itself). The same count and ratio thresholds apply, the day scale's strength
    is capped at ``wave_max_strength`` (a day also holds bystanders of a burst), and the stronger scale is
    reported; ``wave_window_h = 0`` turns the second scale off. Platform-wide joining waves of real people (a
    migration after a news event) also show at the day scale: read the text, which names the window.
    """
    p, t = ctx.params, ctx.t
    scales = [(p.burst_window_h, p.burst_background_days, "h", 1.0)]
    if p.wave_window_h > 0:
        scales.append((p.wave_window_h, p.wave_background_days, "d", p.wave_max_strength))
    ctes = ",".join(_burst_scale_sql(ctx, wh, bd, tag, cap) for wh, bd, tag, cap in scales)
    union = " UNION ALL ".join(f"SELECT * FROM scored_{tag}" for _, _, tag, _ in scales)
    return ctx.run(f"""
    WITH cr AS MATERIALIZED (SELECT account_id, epoch(created_at) AS ts FROM {t('acc')} WHERE created_at IS NOT NULL),
    n AS (SELECT count(*)::DOUBLE AS n FROM cr),
    -- the running counts are shared by both time scales: computed once
    cum AS MATERIALIZED (SELECT ts, sum(count(*)) OVER (ORDER BY ts) AS c FROM cr GROUP BY ts),
    gt AS MATERIALIZED (SELECT g.account_id, g.grp_kind, g.grp_id, g.grp_label, cr.ts,
                  count(*) OVER (PARTITION BY g.grp_kind, g.grp_id) AS g_size
           FROM {t('groups')} g JOIN cr USING (account_id)),
    gcum AS MATERIALIZED (SELECT grp_kind, grp_id, ts,
                                 sum(count(*)) OVER (PARTITION BY grp_kind, grp_id ORDER BY ts) AS c
                          FROM gt GROUP BY grp_kind, grp_id, ts),
    {ctes},
    scored AS ({union}),
    -- on equal strength the shorter window (the tighter evidence), then the more specific group (a target's
    -- amplifiers, a cluster), then the group with more accounts created together, then the label (so that ties
    -- give the same answer each run)
    best AS (SELECT account_id, arg_max(scored, struct_pack(
                      s := strength + CASE WHEN label = 'accounts in the study' THEN 0 ELSE 1e-9 END
                           - CASE WHEN wh > {p.burst_window_h} THEN 2e-9 ELSE 0 END,
                      n := n_near, l := label)) AS s
             FROM scored GROUP BY account_id)
    SELECT account_id, s.n_near::DOUBLE AS value, s.strength AS strength,
           CASE WHEN s.strength > 0 THEN 'created within ' || printf('%g', s.wh) || ' h of '
                || {fmt_int('s.n_near')} || ' other ' || s.label || ' (' || printf('%.1f', s.expected)
                || ' expected at the background rate'
                || CASE WHEN s.wh > {p.burst_window_h} THEN ' of the surrounding ' || printf('%g', s.bd) || ' days'
                        ELSE '' END || ')' END AS text
    FROM best""")


# ------------------------------------------------------------------------------------------- audience
def followers(ctx: SignalContext) -> pa.Table:
    """Follower count: full strength at ``low_followers`` or fewer, none from 10x that."""
    lo = ctx.params.low_followers
    return ctx.run(f"""
    SELECT account_id, followers_count::DOUBLE AS value,
           CASE WHEN followers_count <= {lo} THEN 1.0
                ELSE greatest(0.0, 1 - ln(followers_count / {lo}.0) / ln(10.0)) END AS strength,
           CASE WHEN followers_count < {10 * lo} THEN {fmt_int('followers_count')} ||
                CASE WHEN followers_count = 1 THEN ' follower' ELSE ' followers' END ||
                ' (fake amplifiers rarely have more than {lo})' END AS text
    FROM {ctx.t('acc')} WHERE followers_count IS NOT NULL""")


def follower_ratio(ctx: SignalContext) -> pa.Table:
    """Followers per account followed; strength when it follows at least 50 and the ratio is below 0.1."""
    return ctx.run(f"""
    WITH r AS (SELECT account_id, followers_count AS fo, following_count AS fi,
                      followers_count / greatest(following_count, 1)::DOUBLE AS ratio
               FROM {ctx.t('acc')} WHERE followers_count IS NOT NULL AND following_count IS NOT NULL)
    SELECT account_id, ratio AS value,
           CASE WHEN fi >= 50 THEN {ramp('ratio', 0.1, 0.0)} ELSE 0.0 END AS strength,
           CASE WHEN fi >= 50 AND ratio < 0.1 THEN 'follows ' || {fmt_int('fi')} || ', followed by '
                || {fmt_int('fo')} || ' (ratio ' || printf('%.3f', ratio) || ')' END AS text
    FROM r""")


def posts_per_day(ctx: SignalContext) -> pa.Table:
    """Posts a day since creation (profile count, or posts in the study); strength from 50 to 200 a day."""
    t = ctx.t
    return ctx.run(f"""
    WITH pc AS (SELECT account_id, n, first FROM {t('pagg')} WHERE n > 0),
    r AS (SELECT i.account_id, COALESCE(a.posts_count, pc.n) AS n,
                 greatest(epoch(now.now) - epoch(COALESCE(a.created_at, pc.first)), 86400) / 86400.0 AS days
          FROM {t('ids')} i LEFT JOIN {t('acc')} a USING (account_id) LEFT JOIN pc USING (account_id), {t('now')} now
          WHERE COALESCE(a.posts_count, pc.n) IS NOT NULL AND COALESCE(a.created_at, pc.first) IS NOT NULL)
    SELECT account_id, n / days AS value, {ramp('n / days', 50, 200)} AS strength,
           CASE WHEN n / days >= 50 THEN printf('%.0f', n / days) || ' posts a day over '
                || CASE WHEN days >= 365 THEN printf('%.1f years', days / 365.25)
                        ELSE printf('%.0f days', days) END END AS text
    FROM r""")


def account_age(ctx: SignalContext) -> pa.Table:
    """Days since creation; strength for accounts younger than 30 days (full at 1 day)."""
    return ctx.run(f"""
    WITH r AS (SELECT account_id, (epoch(now.now) - epoch(created_at)) / 86400.0 AS days
               FROM {ctx.t('acc')}, {ctx.t('now')} now WHERE created_at IS NOT NULL)
    SELECT account_id, days AS value, {ramp('days', 30, 1)} AS strength,
           CASE WHEN days < 30 THEN 'created ' || printf('%.0f', greatest(days, 0)) || ' days before the data ends'
           END AS text
    FROM r""")


# ------------------------------------------------------------------------------------------- names
def templated_handle(ctx: SignalContext) -> pa.Table:
    """Handles of the form name + long digit suffix (platform-suggested defaults) or mostly digits.

    ``value`` is the length of the trailing digit run; strength 1 for 8 or more digits (Twitter's suggested
    handles end in 8 digits), 0.6 for 6-7, 0.3 for 5; 0.5 for random-looking handles of at least 10
    characters that are 40% or more digits.
    """
    return ctx.run(f"""
    WITH h AS (SELECT account_id, handle, length(regexp_extract(handle, '([0-9]+)$', 1)) AS digits,
                      length(regexp_replace(handle, '[^0-9]', '', 'g')) AS all_digits, length(handle) AS len
               FROM {ctx.t('acc')} WHERE handle IS NOT NULL AND handle <> ''),
    s AS (SELECT *, greatest(CASE WHEN digits >= 8 AND len > digits THEN 1.0 WHEN digits >= 6 AND len > digits THEN 0.6
                                  WHEN digits = 5 AND len > digits THEN 0.3 ELSE 0.0 END,
                             CASE WHEN len >= 10 AND all_digits >= 0.4 * len THEN 0.5 ELSE 0.0 END) AS strength
          FROM h)
    SELECT account_id, digits::DOUBLE AS value, strength,
           CASE WHEN strength > 0 THEN CASE WHEN digits >= 5
                THEN 'templated handle @' || handle || ' (name + ' || digits || '-digit suffix)'
                ELSE 'random-looking handle @' || handle || ' (' || all_digits || ' of ' || len
                     || ' characters are digits)'
                END END AS text
    FROM s""")


def name_mismatch(ctx: SignalContext) -> pa.Table:
    """A person-like display name that shares nothing with the handle.

    ``value`` is the Jaro-Winkler similarity of the letters of both; strength 1 when it is below 0.6, the
    display name looks like 'First Last' and no word of it (3+ letters) occurs in the handle.
    """
    return ctx.run(f"""
    WITH h AS (SELECT account_id, handle, display_name,
                      regexp_replace(lower(display_name), '[^a-z]', '', 'g') AS n,
                      regexp_replace(lower(handle), '[^a-z]', '', 'g') AS hh,
                      regexp_matches(display_name, '^[A-Z][a-z]+( [A-Z][a-z]*\\.?)? [A-Z][a-z]+$') AS person
               FROM {ctx.t('acc')} WHERE handle IS NOT NULL AND display_name IS NOT NULL),
    j AS (SELECT *, jaro_winkler_similarity(n, hh) AS sim FROM h WHERE length(n) >= 4),
    -- the word-by-word check only where it can change the answer (a person-like name, low similarity)
    s AS (SELECT *, CASE WHEN person AND sim < 0.6 THEN
                 list_bool_or(list_transform(string_split(lower(display_name), ' '),
                     w -> length(regexp_replace(w, '[^a-z]', '', 'g')) >= 3
                          AND contains(hh, regexp_replace(w, '[^a-z]', '', 'g')))) END AS shared
          FROM j)
    SELECT account_id, sim AS value,
           CASE WHEN person AND NOT COALESCE(shared, false) AND sim < 0.6 THEN 1.0 ELSE 0.0 END AS strength,
           CASE WHEN person AND NOT COALESCE(shared, false) AND sim < 0.6 THEN 'display name ''' || display_name
                || ''' shares nothing with handle @' || handle || ' (similarity ' || printf('%.2f', sim) || ')' END
    FROM s""")


def persona_duplicate(ctx: SignalContext) -> pa.Table:
    """The same persona across accounts: bios (and display names) equal after normalisation.

    Normalisation keeps letters only (case, digits, spaces, punctuation and emoji dropped), so "Proud Brit,
    mum of 2!" and "proud brit mum of 3" match. ``value`` is the number of other accounts with the same bio;
    strength 1 at 3 others. A display name shared by 3 or more other accounts adds 0.3 when the bio is shared
    too (common names alone say nothing). A bio used by many accounts is a common phrase, not a persona:
    strength is full while at most ``max(50, 0.1% of the accounts)`` share it and falls to 0 at ten times that.
    """
    return ctx.run(f"""
    WITH k AS (SELECT account_id, handle, regexp_replace(lower(description), '[^\\p{{L}}]', '', 'g') AS kb,
                      regexp_replace(lower(display_name), '[^\\p{{L}}]', '', 'g') AS kn FROM {ctx.t('acc')}),
    cap AS (SELECT greatest(50, 0.001 * count(*)) AS cap FROM k),
    b AS (SELECT kb, count(*) - 1 AS n_bio, list(account_id ORDER BY account_id)[1:4] AS ex4,
                 list(handle ORDER BY account_id)[1:4] AS hx4
          FROM k WHERE length(kb) >= 15 GROUP BY kb HAVING count(*) > 1),
    nm AS (SELECT kn, count(*) - 1 AS n_name FROM k WHERE length(kn) >= 6 GROUP BY kn HAVING count(*) > 1),
    s AS (SELECT k.account_id, COALESCE(b.n_bio, 0) AS n_bio, COALESCE(nm.n_name, 0) AS n_name,
                 list_filter(list_zip(b.ex4, b.hx4), x -> x[1] <> k.account_id)[1:3] AS ex,
                 least(1.0, COALESCE(b.n_bio, 0) / 3.0
                            + CASE WHEN COALESCE(nm.n_name, 0) >= 3 AND b.n_bio > 0 THEN 0.3 ELSE 0 END)
                   * {ramp('COALESCE(b.n_bio, 0) + 1', '10 * cap.cap', 'cap.cap')} AS strength
          FROM k LEFT JOIN b USING (kb) LEFT JOIN nm USING (kn), cap)
    SELECT account_id, n_bio::DOUBLE AS value, strength,
           CASE WHEN strength > 0 AND n_bio > 0 THEN 'same bio as ' || {fmt_int('n_bio')} || ' other account'
                    || CASE WHEN n_bio > 1 THEN 's' ELSE '' END || ' (e.g. '
                    || array_to_string(list_transform(ex, x -> '@' || COALESCE(x[2], x[1])), ', ') || ')'
           END
    FROM s""")


# ------------------------------------------------------------------------------------------- images
def default_image(ctx: SignalContext) -> pa.Table:
    """The platform's default profile image (flag or a 'default_profile' image URL)."""
    return ctx.run(f"""
    WITH d AS (SELECT account_id, COALESCE(default_profile_image, false)
                      OR COALESCE(profile_image_url ILIKE '%default_profile%', false) AS dflt
               FROM {ctx.t('acc')} WHERE default_profile_image IS NOT NULL OR profile_image_url IS NOT NULL)
    SELECT account_id, dflt::DOUBLE AS value, dflt::DOUBLE AS strength,
           CASE WHEN dflt THEN 'platform default profile image' END AS text FROM d""")


def image_duplicate(ctx: SignalContext) -> pa.Table:
    """The same profile image across accounts: equal image URLs, or perceptual hashes within 6 bits.

    Perceptual hashes (64-bit pHash) come from local files only (:func:`faces.scan_images`); candidate
    pairs share one of four 16-bit bands of the hash, so the comparison stays near-linear.
    ``value`` is the number of other accounts with the same or a near-identical image; strength 1 at 3 others.
    """
    t = ctx.t
    parts = [f"""SELECT a.account_id, b.account_id AS other, 0 AS bits FROM {t('acc')} a JOIN {t('acc')} b
                 ON a.profile_image_url = b.profile_image_url AND a.account_id <> b.account_id
                 WHERE a.profile_image_url IS NOT NULL AND a.profile_image_url NOT ILIKE '%default_profile%'
                   AND NOT COALESCE(a.default_profile_image, false)"""]
    if ctx.images is not None and "phash" in ctx.images.column_names:
        parts.append(f"""SELECT DISTINCT a.account_id, b.account_id AS other, bit_count(xor(a.phash, b.phash)) AS bits
            FROM (SELECT account_id, phash, unnest([0, 1, 2, 3]) AS band FROM {t('images')} WHERE phash IS NOT NULL) a
            JOIN (SELECT account_id, phash, unnest([0, 1, 2, 3]) AS band FROM {t('images')} WHERE phash IS NOT NULL) b
              ON a.band = b.band AND (a.phash >> (16 * a.band)) & 65535 = (b.phash >> (16 * b.band)) & 65535
             AND a.account_id <> b.account_id
            WHERE bit_count(xor(a.phash, b.phash)) <= 6""")
    union = " UNION ALL ".join(parts)
    return ctx.run(f"""
    WITH pairs AS ({union}),
    agg AS (SELECT account_id, count(DISTINCT other) AS n, min(bits) AS bits,
                   list(DISTINCT other ORDER BY other)[1:3] AS ex FROM pairs GROUP BY account_id)
    SELECT account_id, n::DOUBLE AS value, least(1.0, n / 3.0) AS strength,
           'same profile image as ' || {fmt_int('n')} || ' other account' || CASE WHEN n > 1 THEN 's' ELSE '' END
           || CASE WHEN bits > 0 THEN ' (perceptual hash within ' || bits || ' bits)' ELSE '' END
           || ' (e.g. ' || array_to_string(ex, ', ') || ')' AS text
    FROM agg""")


def gan_face(ctx: SignalContext) -> pa.Table:
    """GAN-generated face: eye positions at StyleGAN's fixed template (see :mod:`echoscope.accounts.faces`).

    ``value`` is the mean normalised distance of the two detected eye centres from the template; strength 1
    at or below :data:`faces.GAN_EYE_THRESHOLD` (0.02), falling to 0 at twice that. Only accounts whose local
    image had a face with two eyes are judged.
    """
    from .faces import GAN_EYE_THRESHOLD

    if ctx.images is None or "eye_distance" not in ctx.images.column_names:
        return SIGNAL_SCHEMA.empty_table()
    th = GAN_EYE_THRESHOLD
    return ctx.run(f"""
    SELECT account_id, eye_distance AS value, {ramp('eye_distance', 2 * th, th)} AS strength,
           CASE WHEN eye_distance < {2 * th} THEN 'eye distance ' || printf('%.3f', eye_distance)
                || ' from the StyleGAN template (GAN faces sit below {th:g}; needs a person''s review)' END AS text
    FROM {ctx.t('images')} WHERE eye_distance IS NOT NULL AND NOT isnan(eye_distance)""")

