"""Per-account signals: one function per signal, each returning a value and the evidence behind it.

Why the module is shaped so: a score is only as trustworthy as the person checking it can make it, so every
signal is a small, separately testable function that returns, for every account it can judge, the measured
``value`` (a number in the signal's own unit), a ``strength`` in [0, 1] (how far the value is into suspicious
territory, by documented thresholds in :class:`SignalParams`) and a ``text`` that says the value in words
("created within 3 h of 41 other amplifiers of @x"). Scorers (:mod:`echoscope.accounts.score`) only combine
strengths and copy texts; they never invent a reason.

Every tabular signal is one DuckDB SQL statement over the study's views (``accounts``, ``posts``,
``engagements``, ``targets`` and, when present, the ``coord_members`` result table), run on temporary tables
that :class:`SignalContext` prepares once: the latest profile per account, one row per account of aggregates of
its posts (counts, first/last times, gaps between posts, hour-of-day histogram, automation clients) and one of
its engagements (repost latencies, engagements of targets). Signals derive from these instead of re-reading the
10 million posts each (measured: 287 s -> 34 s at 1M accounts / 10M engagements). Python never loops over
rows here: 1 million accounts and 10 million
engagements are the design size. Image signals (``image_duplicate``, ``gan_face``) read only local files the
user names and are computed by :mod:`echoscope.accounts.faces`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

#: columns every signal function returns
SIGNAL_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("value", pa.float64()),
    pa.field("strength", pa.float64()),
    pa.field("text", pa.string()),
])


@dataclasses.dataclass
class SignalParams:
    """Thresholds of the signals (units in the names). A looser value flags more organic accounts.

    Attributes
    ----------
    burst_window_h
        Two accounts created within this many hours of each other count as created together. Wider windows
        admit coincidence on busy days.
    burst_background_days
        Half-width of the window used to estimate the background creation rate around an account's creation.
    burst_min_accounts, burst_min_ratio
        A creation burst needs at least this many other accounts created together *and* this many times the
        number expected at the background rate (both time scales).
    wave_window_h, wave_background_days
        The second, day-long time scale of creation bursts (accounts registered in waves over days, as the
        IRA accounts were) and the half-width of its background window (a year); ``wave_window_h = 0`` turns
        it off.
    wave_max_strength
        Cap on the strength of the day scale. A day also holds bystanders (organic accounts created on the day of
        a campaign's burst), so with ``creation_burst``'s rule weight of 0.6 a wave alone adds at most 0.4 and
        never reaches the flag threshold of 0.5 by itself; the hour scale is not capped.
    min_group
        Without targets, the amplifiers of any account with at least this many distinct amplifiers form a group.
    low_followers
        Followers at or below this count give full strength (fake amplifiers rarely have more than ten).
    min_posts_behaviour
        Posting-behaviour signals (timezone, intervals, repost share) need at least this many posts.
    silence_days, reactivation_posts, reactivation_rate_ratio, rate_min_days
        Dormancy: a gap of at least ``silence_days`` followed by at least ``reactivation_posts`` posts at
        ``reactivation_rate_ratio`` times the account's earlier rate (rates measured over at least
        ``rate_min_days`` days).
    tz_tolerance_h
        A claimed location more than this many hours from the inferred UTC offset is a mismatch.
    fast_repost_s
        A median repost latency at or below this many seconds is rapid-fire.
    """

    burst_window_h: float = 3.0
    burst_background_days: float = 30.0
    burst_min_accounts: int = 5
    burst_min_ratio: float = 5.0
    wave_window_h: float = 24.0
    wave_background_days: float = 365.0
    wave_max_strength: float = 0.67
    min_group: int = 20
    low_followers: int = 10
    min_posts_behaviour: int = 20
    silence_days: float = 180.0
    reactivation_posts: int = 10
    reactivation_rate_ratio: float = 2.0
    rate_min_days: float = 30.0
    tz_tolerance_h: float = 3.0
    fast_repost_s: float = 60.0


#: clients that post on a schedule or by program (case-insensitive regular expressions)
AUTOMATION_CLIENTS: tuple[str, ...] = (
    r"\bbot\b", r"twittbot", r"ifttt", r"dlvr\.it", r"zapier", r"autopost", r"auto[- ]?tweet", r"twitterfeed",
    r"roundteam", r"botize", r"\bapi\b", r"cheap bots", r"make\.com", r"integromat", r"socialoomph",
)

#: claimed places and their standard UTC offsets (hours). Matched as whole words in ``accounts.location``;
#: the longest match wins. Daylight saving is absorbed by ``tz_tolerance_h``.
PLACE_OFFSETS: dict[str, float] = {
    "london": 0, "uk": 0, "united kingdom": 0, "england": 0, "britain": 0, "great britain": 0, "scotland": 0,
    "wales": 0, "manchester": 0, "birmingham": 0, "liverpool": 0, "leeds": 0, "bristol": 0, "glasgow": 0,
    "edinburgh": 0, "cardiff": 0, "sheffield": 0, "newcastle": 0, "belfast": 0, "dublin": 0, "ireland": 0,
    "lisbon": 0, "portugal": 0, "paris": 1, "france": 1, "berlin": 1, "germany": 1, "madrid": 1, "spain": 1,
    "rome": 1, "italy": 1, "amsterdam": 1, "netherlands": 1, "brussels": 1, "belgium": 1, "vienna": 1,
    "warsaw": 1, "poland": 1, "stockholm": 1, "sweden": 1, "oslo": 1, "norway": 1, "switzerland": 1,
    "kyiv": 2, "kiev": 2, "ukraine": 2, "athens": 2, "greece": 2, "helsinki": 2, "cairo": 2, "israel": 2,
    "moscow": 3, "russia": 3, "st petersburg": 3, "istanbul": 3, "turkey": 3, "riyadh": 3, "dubai": 4,
    "tehran": 3.5, "iran": 3.5, "pakistan": 5, "karachi": 5, "india": 5.5, "delhi": 5.5, "new delhi": 5.5,
    "mumbai": 5.5, "bangkok": 7, "jakarta": 7, "vietnam": 7, "beijing": 8, "china": 8, "shanghai": 8,
    "hong kong": 8, "taipei": 8, "taiwan": 8, "singapore": 8, "manila": 8, "philippines": 8, "perth": 8,
    "tokyo": 9, "japan": 9, "seoul": 9, "korea": 9, "sydney": 10, "melbourne": 10, "brisbane": 10,
    "australia": 10, "auckland": 12, "new zealand": 12,
    "new york": -5, "nyc": -5, "washington dc": -5, "boston": -5, "atlanta": -5, "miami": -5, "florida": -5,
    "philadelphia": -5, "ohio": -5, "virginia": -5, "detroit": -5, "toronto": -5, "montreal": -5,
    "chicago": -6, "texas": -6, "houston": -6, "dallas": -6, "austin": -6, "illinois": -6, "mexico": -6,
    "denver": -7, "colorado": -7, "arizona": -7, "phoenix": -7, "utah": -7,
    "los angeles": -8, "california": -8, "san francisco": -8, "seattle": -8, "portland": -8, "vancouver": -8,
    "las vegas": -8, "usa": -6, "united states": -6, "america": -6, "brazil": -3, "sao paulo": -3,
    "buenos aires": -3, "argentina": -3,
}

#: profile time-zone settings and their standard UTC offsets (hours): the names Twitter's profiles carried until
#: 2018 (Rails ``ActiveSupport::TimeZone`` names, matched case-insensitively), so a profile with no posts still
#: says where its owner set the clock. Daylight saving and changed rules (Volgograd was UTC+4 in 2011-2014) are
#: absorbed by ``tz_tolerance_h``.
TZ_NAME_OFFSETS: dict[str, float] = {
    "hawaii": -10, "alaska": -9, "pacific time (us & canada)": -8, "tijuana": -8, "arizona": -7,
    "mountain time (us & canada)": -7, "chihuahua": -7, "mazatlan": -7, "central time (us & canada)": -6,
    "mexico city": -6, "monterrey": -6, "guadalajara": -6, "central america": -6, "saskatchewan": -6,
    "eastern time (us & canada)": -5, "indiana (east)": -5, "bogota": -5, "lima": -5, "quito": -5,
    "atlantic time (canada)": -4, "caracas": -4, "la paz": -4, "santiago": -4, "georgetown": -4,
    "newfoundland": -3.5, "brasilia": -3, "buenos aires": -3, "montevideo": -3, "greenland": -3,
    "mid-atlantic": -2, "azores": -1, "cape verde is.": -1, "utc": 0, "london": 0, "edinburgh": 0, "dublin": 0,
    "lisbon": 0, "casablanca": 0, "monrovia": 0, "amsterdam": 1, "belgrade": 1, "berlin": 1, "bern": 1,
    "bratislava": 1, "brussels": 1, "budapest": 1, "copenhagen": 1, "ljubljana": 1, "madrid": 1, "paris": 1,
    "prague": 1, "rome": 1, "sarajevo": 1, "skopje": 1, "stockholm": 1, "vienna": 1, "warsaw": 1,
    "west central africa": 1, "zagreb": 1, "athens": 2, "bucharest": 2, "cairo": 2, "harare": 2, "helsinki": 2,
    "jerusalem": 2, "kyiv": 2, "kyev": 2, "pretoria": 2, "riga": 2, "sofia": 2, "tallinn": 2, "vilnius": 2,
    "kaliningrad": 2, "baghdad": 3, "istanbul": 3, "kuwait": 3, "minsk": 3, "moscow": 3, "nairobi": 3,
    "riyadh": 3, "st. petersburg": 3, "volgograd": 3, "tehran": 3.5, "abu dhabi": 4, "baku": 4, "muscat": 4,
    "samara": 4, "tbilisi": 4, "yerevan": 4, "kabul": 4.5, "ekaterinburg": 5, "islamabad": 5, "karachi": 5,
    "tashkent": 5, "chennai": 5.5, "kolkata": 5.5, "mumbai": 5.5, "new delhi": 5.5, "sri jayawardenepura": 5.5,
    "kathmandu": 5.75, "almaty": 6, "astana": 6, "dhaka": 6, "urumqi": 6, "rangoon": 6.5, "bangkok": 7,
    "hanoi": 7, "jakarta": 7, "krasnoyarsk": 7, "novosibirsk": 7, "beijing": 8, "chongqing": 8, "hong kong": 8,
    "irkutsk": 8, "kuala lumpur": 8, "perth": 8, "singapore": 8, "taipei": 8, "ulaanbaatar": 8, "osaka": 9,
    "sapporo": 9, "seoul": 9, "tokyo": 9, "yakutsk": 9, "adelaide": 9.5, "darwin": 9.5, "brisbane": 10,
    "canberra": 10, "guam": 10, "hobart": 10, "melbourne": 10, "sydney": 10, "vladivostok": 10, "magadan": 11,
    "auckland": 12, "wellington": 12, "fiji": 12, "kamchatka": 12,
}

#: local languages (ISO 639-1) of claimed places, for the interface-language half of ``profile_mismatch``.
#: English is plausible everywhere (the platforms' default interface language); a place missing here is not
#: judged. Keys are places of :data:`PLACE_OFFSETS`.
_PLACE_LANGUAGE_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("es",), ("usa", "united states", "america", "new york", "nyc", "washington dc", "boston", "atlanta", "miami",
               "florida", "philadelphia", "ohio", "virginia", "detroit", "chicago", "texas", "houston", "dallas",
               "austin", "illinois", "denver", "colorado", "arizona", "phoenix", "utah", "los angeles", "california",
               "san francisco", "seattle", "portland", "las vegas")),
    (("fr",), ("toronto", "montreal", "vancouver")),
    (("cy", "gd", "ga"), ("london", "uk", "united kingdom", "england", "britain", "great britain", "scotland",
                          "wales", "manchester", "birmingham", "liverpool", "leeds", "bristol", "glasgow",
                          "edinburgh", "cardiff", "sheffield", "newcastle", "belfast", "dublin", "ireland")),
    (("fr",), ("paris", "france")), (("de",), ("berlin", "germany", "vienna")),
    (("de", "fr", "it", "rm"), ("switzerland",)), (("es", "ca", "eu", "gl"), ("madrid", "spain")),
    (("it",), ("rome", "italy")), (("nl",), ("amsterdam", "netherlands")),
    (("nl", "fr", "de"), ("brussels", "belgium")), (("pl",), ("warsaw", "poland")), (("sv",), ("stockholm", "sweden")),
    (("no", "nb", "nn"), ("oslo", "norway")), (("pt",), ("lisbon", "portugal", "brazil", "sao paulo")),
    (("es",), ("buenos aires", "argentina", "mexico")), (("uk", "ru"), ("kyiv", "kiev", "ukraine")),
    (("el",), ("athens", "greece")), (("fi", "sv"), ("helsinki",)), (("ru",), ("moscow", "russia", "st petersburg")),
    (("tr",), ("istanbul", "turkey")), (("ja",), ("tokyo", "japan")), (("ko",), ("seoul", "korea")),
    (("zh",), ("beijing", "china", "shanghai", "hong kong", "taipei", "taiwan")),
)
#: claimed place -> languages a resident plausibly reads the platform in (English plus the local ones)
PLACE_LANGUAGES: dict[str, tuple[str, ...]] = {
    place: ("en", *langs) for langs, places in _PLACE_LANGUAGE_GROUPS for place in places}

_CTX_TABLES = ("ids", "acc", "tgt", "autoc", "pagg", "lagg", "eagg", "now", "groups", "places", "images", "tzn",
               "extra")


class SignalContext:
    """Temporary DuckDB tables shared by the signal functions of one run.

    Parameters
    ----------
    study
        The study to read.
    params
        Signal thresholds.
    images
        Optional Arrow table ``account_id, path, phash, eye_distance, ...`` from
        :func:`echoscope.accounts.faces.scan_images`; without it the image signals return nothing.
    profile_extra
        Optional Arrow table ``account_id, time_zone`` with profile time-zone settings (Twitter's profiles
        carried one until 2018) held apart from the study; they fill in accounts whose ``accounts.time_zone``
        is null.
    """

    def __init__(self, study: Study, params: SignalParams | None = None, images: pa.Table | None = None,
                 profile_extra: pa.Table | None = None) -> None:
        self.study = study
        self.profile_extra = profile_extra
        self.params = params or SignalParams()
        self.con: Any = study.con().con
        self.prefix = "_es_" + uuid.uuid4().hex[:8] + "_"
        self.notes: list[str] = []
        self.images = images
        self._prepare()

    def t(self, name: str) -> str:
        """Name of this run's temporary table ``name``."""
        return self.prefix + name

    def _tables(self) -> set[str]:
        return {r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}

    def _prepare(self) -> None:
        c, t, p = self.con, self.t, self.params
        names = self._tables()
        # the latest profile per account, with its time_zone: from accounts (the canonical column), filled in
        # from profile_extra where the profile has none
        acc_cols = {r[0] for r in c.execute("DESCRIBE accounts").fetchall()}
        own_tz = "a.time_zone" if "time_zone" in acc_cols else "NULL::VARCHAR"
        if self.profile_extra is not None and {"account_id", "time_zone"} <= set(self.profile_extra.column_names):
            c.register(t("extra_arrow"), self.profile_extra.select(["account_id", "time_zone"]))
            c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('extra')} AS SELECT CAST(account_id AS VARCHAR) AS account_id,
                          any_value(CAST(time_zone AS VARCHAR)) AS time_zone FROM {t('extra_arrow')}
                          WHERE time_zone IS NOT NULL GROUP BY ALL""")
            c.unregister(t("extra_arrow"))
            tz_sel, tz_join = f"COALESCE({own_tz}, x.time_zone)", f"LEFT JOIN {t('extra')} x USING (account_id)"
        else:
            tz_sel, tz_join = own_tz, ""
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('acc')} AS
            SELECT a.* EXCLUDE (time_zone), {tz_sel} AS time_zone FROM (SELECT *{'' if 'time_zone' in acc_cols
                   else ', NULL::VARCHAR AS time_zone'} FROM accounts
              QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY observed_at DESC NULLS LAST) = 1) a {tz_join}""")
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('tgt')} AS
            SELECT DISTINCT account_id, handle FROM targets WHERE account_id IS NOT NULL""")
        self.has_targets = c.execute(f"SELECT count(*) FROM {t('tgt')}").fetchone()[0] > 0
        # clients that match AUTOMATION_CLIENTS, found once among the distinct client names (a handful) instead
        # of running the regular expression on every post
        pattern = "|".join(AUTOMATION_CLIENTS).replace("'", "''")
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('autoc')} AS
            SELECT client FROM (SELECT DISTINCT client FROM posts WHERE client IS NOT NULL)
            WHERE regexp_matches(lower(client), '{pattern}')""")
        # per account, from the posts: counts, first/last times, the UTC hour-of-day histogram (h0..h23) and
        # automation-client counts in one hash aggregate; the gaps between consecutive posts in one narrow window
        # pass (account and time only: a window sorts every column it carries). Every posting-behaviour signal
        # reads the joined result instead of the posts.
        hours = ",\n".join(f"count(*) FILTER (WHERE h = {h}) AS h{h}" for h in range(24))
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('pagg')} AS
            WITH a AS (
              SELECT p.account_id, count(*) AS n_all, count(p.created_at) AS n,
                     count(*) FILTER (WHERE p.created_at IS NOT NULL AND p.kind = 'repost') AS n_repost,
                     min(p.created_at) AS first, max(p.created_at) AS last,
                     count(p.client) FILTER (WHERE p.created_at IS NOT NULL) AS n_client,
                     count(*) FILTER (WHERE p.created_at IS NOT NULL AND ac.client IS NOT NULL) AS n_auto,
                     {hours}
              FROM (SELECT account_id, created_at, kind, client, hour(created_at)::INT AS h FROM posts) p
              LEFT JOIN {t('autoc')} ac ON ac.client = p.client
              GROUP BY p.account_id),
            g AS (SELECT account_id, epoch(created_at) AS ts,
                         epoch(created_at) - lag(epoch(created_at)) OVER (PARTITION BY account_id ORDER BY created_at)
                           AS gap
                  FROM posts),
            ga AS (SELECT account_id, count(gap) AS n_gap, avg(gap) AS gap_mean, stddev_pop(gap) AS gap_sd,
                          max(gap) AS gap_max, arg_max(ts, gap) AS t_react
                   FROM g GROUP BY account_id),
            -- the most used automation client, only for accounts that used one
            top AS (SELECT account_id, mode(client) AS top_auto FROM posts
                    WHERE created_at IS NOT NULL AND client IN (SELECT client FROM {t('autoc')})
                    GROUP BY account_id)
            SELECT a.*, ga.* EXCLUDE (account_id), top.top_auto
            FROM a LEFT JOIN ga USING (account_id) LEFT JOIN top USING (account_id)""")
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('lagg')} AS
            SELECT account_id, count(*) AS n, max(created_at) AS last FROM likes GROUP BY account_id""")
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('ids')} AS
            SELECT account_id FROM {t('acc')} UNION SELECT account_id FROM {t('pagg')}
            UNION SELECT account_id FROM {t('lagg')}""")
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('now')} AS SELECT COALESCE(
            greatest((SELECT max(observed_at) FROM accounts), (SELECT max(last) FROM {t('pagg')}),
                     (SELECT max(last) FROM {t('lagg')})), current_timestamp) AS now""")
        # the engagements view of echoscope.engine, narrowed to the columns used here
        eng = """WITH
            e AS (
              SELECT p.account_id AS actor_id, p.kind, COALESCE(p.ref_account_id, s.account_id) AS subject_account_id,
                     CAST(EXTRACT(EPOCH FROM p.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
              FROM posts p LEFT JOIN posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
              WHERE p.kind IN ('repost', 'reply', 'quote')
              UNION ALL
              SELECT l.account_id, 'like', s.account_id,
                     CAST(EXTRACT(EPOCH FROM l.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE)
              FROM likes l LEFT JOIN posts s ON s.platform = l.platform AND s.post_id = l.post_id)"""
        f = p.fast_repost_s
        # one pass over the engagements, one row per actor: repost latencies, engagements of targets, and the
        # targets each actor amplified (its groups for creation bursts)
        c.execute(f"""CREATE OR REPLACE TEMP TABLE {t('eagg')} AS {eng},
            et AS (SELECT e.*, tt.account_id IS NOT NULL AS is_tgt FROM e
                   LEFT JOIN (SELECT DISTINCT account_id FROM {t('tgt')}) tt ON tt.account_id = e.subject_account_id)
            SELECT actor_id AS account_id, count(*) AS n_eng, count(*) FILTER (WHERE is_tgt) AS n_tgt,
                   count(*) FILTER (WHERE kind = 'repost' AND latency_s >= 0) AS n_lat,
                   median(latency_s) FILTER (WHERE kind = 'repost' AND latency_s >= 0) AS med_lat,
                   count(*) FILTER (WHERE kind = 'repost' AND latency_s >= 0 AND latency_s <= {f}) AS n_fast,
                   list(DISTINCT subject_account_id) FILTER (WHERE is_tgt AND actor_id <> subject_account_id) AS tgts
            FROM et GROUP BY actor_id""")
        # groups of amplifiers: one row per (account, group); a creation burst is judged inside each group
        if self.has_targets:
            groups = f"""SELECT DISTINCT g.account_id, 'target' AS grp_kind, t.account_id AS grp_id,
                               'amplifiers of @' || COALESCE(t.handle, t.account_id) AS grp_label
                        FROM (SELECT account_id, unnest(tgts) AS tid FROM {t('eagg')} WHERE len(tgts) > 0) g
                        JOIN {t('tgt')} t ON g.tid = t.account_id"""
        else:
            groups = f"""{eng},
                         pairs AS (SELECT DISTINCT actor_id, subject_account_id FROM e
                                   WHERE subject_account_id IS NOT NULL AND actor_id <> subject_account_id),
                         big AS (SELECT subject_account_id FROM pairs GROUP BY ALL HAVING count(*) >= {p.min_group})
                         SELECT pairs.actor_id AS account_id, 'target' AS grp_kind, pairs.subject_account_id AS grp_id,
                                'amplifiers of @' || COALESCE(a.handle, pairs.subject_account_id) AS grp_label
                         FROM pairs JOIN big USING (subject_account_id)
                         LEFT JOIN {t('acc')} a ON a.account_id = pairs.subject_account_id"""
        if "coord_members" in names:
            cols = {r[0] for r in c.execute("DESCRIBE coord_members").fetchall()}
            cid = next((x for x in ("cluster_id", "cluster", "community") if x in cols), None)
            if "account_id" in cols and cid:
                groups += f"""\nUNION ALL SELECT DISTINCT CAST(account_id AS VARCHAR), 'cluster',
                    CAST({cid} AS VARCHAR), 'members of coordination cluster ' || CAST({cid} AS VARCHAR)
                    FROM coord_members"""
            else:
                self.notes.append("coord_members has no account_id/cluster_id columns; clusters not used")
        c.execute(f"CREATE OR REPLACE TEMP TABLE {t('groups')} AS {groups}")
        places = pa.table({"place": list(PLACE_OFFSETS), "utc_offset": [float(v) for v in PLACE_OFFSETS.values()],
                           "langs": pa.array([list(PLACE_LANGUAGES[k]) if k in PLACE_LANGUAGES else None
                                              for k in PLACE_OFFSETS], pa.list_(pa.string()))})
        tzn = pa.table({"tz_name": list(TZ_NAME_OFFSETS), "utc_offset": [float(v) for v in TZ_NAME_OFFSETS.values()]})
        c.register(t("tzn_arrow"), tzn)
        c.execute(f"CREATE OR REPLACE TEMP TABLE {t('tzn')} AS SELECT * FROM {t('tzn_arrow')}")
        c.unregister(t("tzn_arrow"))
        c.register(t("places_arrow"), places)
        c.execute(f"CREATE OR REPLACE TEMP TABLE {t('places')} AS SELECT * FROM {t('places_arrow')}")
        c.unregister(t("places_arrow"))
        if self.images is not None:
            c.register(t("images_arrow"), self.images)
            c.execute(f"CREATE OR REPLACE TEMP TABLE {t('images')} AS SELECT * FROM {t('images_arrow')}")
            c.unregister(t("images_arrow"))

    def run(self, sql: str) -> pa.Table:
        """Run one signal's SQL and return it with :data:`SIGNAL_SCHEMA`."""
        # columns are taken by position: account_id, value, strength, text; strengths are rounded so that
        # 0.9999999999999998 from floating-point ramps reads as 1
        tab = self.con.execute(f"SELECT c0, c1, least(1.0, greatest(0.0, round(c2, 9))), c3 "
                               f"FROM ({sql}) AS q(c0, c1, c2, c3)").to_arrow_table()
        return tab.rename_columns(SIGNAL_SCHEMA.names).cast(SIGNAL_SCHEMA)

    def close(self) -> None:
        """Drop this run's temporary tables."""
        for name in _CTX_TABLES:
            self.con.execute(f"DROP TABLE IF EXISTS {self.t(name)}")


def _fmt_int(expr: str) -> str:
    """SQL: an integer with thousands separators."""
    return f"format('{{:,}}', CAST(round({expr}) AS BIGINT))"


def _ramp(expr: str, lo: float, hi: float) -> str:
    """SQL: 0 at ``lo``, 1 at ``hi``, linear between (``lo`` > ``hi`` for decreasing ramps)."""
    return f"least(1.0, greatest(0.0, ({expr} - ({lo})) / (({hi}) - ({lo}))))"


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
                || {_fmt_int('s.n_near')} || ' other ' || s.label || ' (' || printf('%.1f', s.expected)
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
           CASE WHEN followers_count < {10 * lo} THEN {_fmt_int('followers_count')} ||
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
           CASE WHEN fi >= 50 THEN {_ramp('ratio', 0.1, 0.0)} ELSE 0.0 END AS strength,
           CASE WHEN fi >= 50 AND ratio < 0.1 THEN 'follows ' || {_fmt_int('fi')} || ', followed by '
                || {_fmt_int('fo')} || ' (ratio ' || printf('%.3f', ratio) || ')' END AS text
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
    SELECT account_id, n / days AS value, {_ramp('n / days', 50, 200)} AS strength,
           CASE WHEN n / days >= 50 THEN printf('%.0f', n / days) || ' posts a day over '
                || CASE WHEN days >= 365 THEN printf('%.1f years', days / 365.25)
                        ELSE printf('%.0f days', days) END END AS text
    FROM r""")


def account_age(ctx: SignalContext) -> pa.Table:
    """Days since creation; strength for accounts younger than 30 days (full at 1 day)."""
    return ctx.run(f"""
    WITH r AS (SELECT account_id, (epoch(now.now) - epoch(created_at)) / 86400.0 AS days
               FROM {ctx.t('acc')}, {ctx.t('now')} now WHERE created_at IS NOT NULL)
    SELECT account_id, days AS value, {_ramp('days', 30, 1)} AS strength,
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
                   * {_ramp('COALESCE(b.n_bio, 0) + 1', '10 * cap.cap', 'cap.cap')} AS strength
          FROM k LEFT JOIN b USING (kb) LEFT JOIN nm USING (kn), cap)
    SELECT account_id, n_bio::DOUBLE AS value, strength,
           CASE WHEN strength > 0 AND n_bio > 0 THEN 'same bio as ' || {_fmt_int('n_bio')} || ' other account'
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
           'same profile image as ' || {_fmt_int('n')} || ' other account' || CASE WHEN n > 1 THEN 's' ELSE '' END
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
    SELECT account_id, eye_distance AS value, {_ramp('eye_distance', 2 * th, th)} AS strength,
           CASE WHEN eye_distance < {2 * th} THEN 'eye distance ' || printf('%.3f', eye_distance)
                || ' from the StyleGAN template (GAN faces sit below {th:g}; needs a person''s review)' END AS text
    FROM {ctx.t('images')} WHERE eye_distance IS NOT NULL AND NOT isnan(eye_distance)""")


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
                || {_fmt_int('n1')} || ' posts in ' || printf('%.0f', span1) || ' days ('
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
    with at least ``min_posts_behaviour`` posts; strength grows from 0 at ``tz_tolerance_h`` to 1 at 4 hours
    beyond it when the location names a known place (:data:`PLACE_OFFSETS`). Someone who posts only in office
    hours looks about 2 hours further east than they are; the tolerance absorbs that and daylight saving.
    """
    p, t = ctx.params, ctx.t
    # the 24 five-hour windows (w0 = hours 0-4 UTC, ...) from the hour histogram h0..h23 of the posts, their
    # minimum and the circular mean of the centres of the windows at that minimum, as plain column arithmetic.
    # The mean vector is rounded to 12 decimals: when the quiet windows sit on opposite sides of the clock it is
    # ~1e-17 long and its direction would be rounding noise; rounded, it is (0, 0) and the centre reads 00:00.
    wins = [" + ".join(f"h{(k + j) % 24}" for j in range(5)) for k in range(24)]
    win = ", ".join(f"{x} AS w{k}" for k, x in enumerate(wins))
    wlist = ", ".join(f"w{k}" for k in range(24))
    cnt = " + ".join(f"(w{k} = qn)::INT" for k in range(24))
    sins = " + ".join(f"CASE WHEN w{k} = qn THEN sin(2 * pi() * {k + 2.5} / 24) ELSE 0 END" for k in range(24))
    coss = " + ".join(f"CASE WHEN w{k} = qn THEN cos(2 * pi() * {k + 2.5} / 24) ELSE 0 END" for k in range(24))
    return ctx.run(f"""
    WITH w AS (SELECT account_id, n AS total, {win} FROM {t('pagg')} WHERE n >= {p.min_posts_behaviour}),
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
           CASE WHEN diff IS NULL THEN 0.0 ELSE {_ramp('diff', p.tz_tolerance_h, p.tz_tolerance_h + 4)} END AS strength,
           CASE WHEN diff > {p.tz_tolerance_h} THEN 'claims ''' || location || ''' (UTC' || printf('%+g', claimed)
                || ') but its quietest hours centre on ' || printf('%02d:%02d', (round(centre * 60)::INT // 60) % 24,
                   round(centre * 60)::INT % 60)
                || ' UTC, like a sleeper at UTC' || printf('%+g', off) || ' (' || printf('%g', diff)
                || ' h apart; ' || {_fmt_int('total')} || ' posts)' END AS text
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
    s AS (SELECT *, greatest(COALESCE({_ramp('diff', p.tz_tolerance_h, p.tz_tolerance_h + 4)}, 0.0),
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
           CASE WHEN n >= 5 AND auto > 0 THEN printf('%.0f', 100.0 * auto / n) || '% of ' || {_fmt_int('n')}
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
    SELECT account_id, sd / m AS value, {_ramp('sd / m', 0.5, 0.1)} AS strength,
           CASE WHEN sd / m < 0.5 THEN 'posts every ' || {_fmt_int('m')} || ' s +/- '
                || printf('%.0f', 100 * sd / m) || '% (coefficient of variation ' || printf('%.2f', sd / m)
                || ' over ' || {_fmt_int('n')} || ' intervals)' END AS text
    FROM s""")


def repost_share(ctx: SignalContext) -> pa.Table:
    """Share of posts that are reposts; strength from 80% (0) to 100% (1), from ``min_posts_behaviour`` posts."""
    p = ctx.params
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n, n_repost AS r FROM {ctx.t('pagg')} WHERE n > 0)
    SELECT account_id, r / n::DOUBLE AS value,
           CASE WHEN n >= {p.min_posts_behaviour} THEN {_ramp('r / n::DOUBLE', 0.8, 1.0)} ELSE 0.0 END AS strength,
           CASE WHEN n >= {p.min_posts_behaviour} AND r >= 0.8 * n THEN printf('%.0f', 100.0 * r / n) || '% of its '
                || {_fmt_int('n')} || ' posts are reposts' END AS text
    FROM s""")


def repost_latency(ctx: SignalContext) -> pa.Table:
    """Median seconds from the original post to the account's repost (rapid-fire amplification).

    Needs 5 reposts with known latency; strength falls linearly from 1 at 0 s to 0 at five times
    ``fast_repost_s``, so with the default 60 s a median of 10 s gives 0.97 and one of 60 s gives 0.8.
    """
    f = ctx.params.fast_repost_s
    return ctx.run(f"""
    WITH s AS (SELECT account_id, n_lat AS n, med_lat AS med, n_fast AS fast FROM {ctx.t('eagg')}
               WHERE n_lat >= 5)
    SELECT account_id, med AS value, {_ramp('med', 5 * f, 0)} AS strength,
           CASE WHEN med <= {5 * f} THEN 'median repost latency ' || {_fmt_int('med')} || ' s over '
                || {_fmt_int('n')} || ' reposts (' || printf('%.0f', 100.0 * fast / n) || '% within {f:g} s)' END
    FROM s""")


def amplification_role(ctx: SignalContext) -> pa.Table:
    """Share of the account's actions (posts and likes) that amplify the study's targets.

    Without targets: the share of actions that engage with others (reposts, replies, quotes, likes) rather
    than original posts, at half strength. From 10 actions; strength from 50% (0) to 100% (1).
    """
    t = ctx.t
    if ctx.has_targets:
        amp, what, scale = "n_tgt", "amplify the study''s targets", 1.0
    else:
        amp, what, scale = "n_eng", "engage with other accounts'' posts", 0.5
    return ctx.run(f"""
    WITH act AS (SELECT i.account_id, COALESCE(p.n_all, 0) + COALESCE(l.n, 0) AS n FROM {t('ids')} i
                 LEFT JOIN {t('pagg')} p USING (account_id) LEFT JOIN {t('lagg')} l USING (account_id)
                 WHERE p.account_id IS NOT NULL OR l.account_id IS NOT NULL),
    am AS (SELECT account_id, {amp} AS k FROM {t('eagg')}),
    s AS (SELECT act.account_id, act.n, COALESCE(am.k, 0) AS k, COALESCE(am.k, 0) / act.n::DOUBLE AS share
          FROM act LEFT JOIN am USING (account_id))
    SELECT account_id, share AS value,
           CASE WHEN n >= 10 THEN {scale} * {_ramp('share', 0.5, 1.0)} ELSE 0.0 END AS strength,
           CASE WHEN n >= 10 AND share > 0.5 THEN printf('%.0f', 100 * share) || '% of its ' || {_fmt_int('n')}
                || ' actions {what}' END AS text
    FROM s""")


SignalFn = Callable[[SignalContext], pa.Table]

#: every signal by name, in the order reports list them
SIGNALS: dict[str, SignalFn] = {
    "creation_burst": creation_burst,
    "followers": followers,
    "follower_ratio": follower_ratio,
    "posts_per_day": posts_per_day,
    "account_age": account_age,
    "templated_handle": templated_handle,
    "name_mismatch": name_mismatch,
    "persona_duplicate": persona_duplicate,
    "default_image": default_image,
    "image_duplicate": image_duplicate,
    "gan_face": gan_face,
    "dormancy_hijack": dormancy_hijack,
    "timezone_mismatch": timezone_mismatch,
    "profile_mismatch": profile_mismatch,
    "automation_client": automation_client,
    "regular_intervals": regular_intervals,
    "repost_share": repost_share,
    "repost_latency": repost_latency,
    "amplification_role": amplification_role,
}


def compute_signals(study: Study, *, names: list[str] | None = None, params: SignalParams | None = None,
                    images: pa.Table | None = None, profile_extra: pa.Table | None = None,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, pa.Table]:
    """Compute signals for every account of ``study``.

    Parameters
    ----------
    study
        The study.
    names
        Signals to compute (default: all of :data:`SIGNALS`).
    params
        Thresholds (default :class:`SignalParams`).
    images
        Local image checks from :func:`echoscope.accounts.faces.scan_images`.
    profile_extra
        ``account_id, time_zone`` profile settings held apart from the study (see :class:`SignalContext`).
    progress
        Called with ``{"event": "stage", "message": ...}`` before each signal.

    Returns
    -------
    dict of str to pyarrow.Table
        Signal name -> table with :data:`SIGNAL_SCHEMA` (one row per account the signal can judge).
    """
    from ..errors import ConfigError

    wanted = list(SIGNALS) if names is None else names
    unknown = [n for n in wanted if n not in SIGNALS]
    if unknown:
        raise ConfigError(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(SIGNALS)}")
    if progress:
        progress({"event": "stage", "message": "per-account aggregates"})
    ctx = SignalContext(study, params, images, profile_extra)
    try:
        return run_signals(ctx, wanted, progress=progress)
    finally:
        ctx.close()


def run_signals(ctx: SignalContext, names: list[str] | None = None,
                progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, pa.Table]:
    """Run signals on a prepared :class:`SignalContext` (which the caller closes); see :func:`compute_signals`."""
    out: dict[str, pa.Table] = {}
    for n in (list(SIGNALS) if names is None else names):
        if progress:
            progress({"event": "stage", "message": f"signal {n}"})
        out[n] = SIGNALS[n](ctx)
    return out


def signals_long(tables: Mapping[str, pa.Table], *, only_flagged: bool = True) -> pa.Table:
    """Stack signal tables into ``account_id, signal, value, strength, text`` (the ``account_signals`` table).

    With ``only_flagged`` (the default) only rows with a strength above 0 are kept: those are the evidence
    a person reads; the values of every account stay in the feature frame of the score.
    """
    import pyarrow.compute as pc

    parts = []
    for name, tab in tables.items():
        if only_flagged:
            tab = tab.filter(pc.greater(pc.fill_null(tab["strength"], 0.0), 0.0))
        sig = pa.nulls(tab.num_rows, pa.string()).fill_null(name)
        parts.append(pa.table({"account_id": tab["account_id"], "signal": sig, "value": tab["value"],
                               "strength": tab["strength"], "text": tab["text"]}, schema=LONG_SCHEMA))
    if not parts:
        return LONG_SCHEMA.empty_table()
    return pa.concat_tables(parts)


#: columns of the ``account_signals`` result table
LONG_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("signal", pa.string(), nullable=False),
    pa.field("value", pa.float64()),
    pa.field("strength", pa.float64()),
    pa.field("text", pa.string()),
])
