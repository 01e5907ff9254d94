"""Reference tables of the account signals: automation clients, places and profile time zones with their UTC
offsets, and the languages a resident of each place plausibly reads a platform in.

Why a module of its own: these are data, not logic. They are long, they change for reasons of their own (a
place added, a client renamed) and :class:`~echoscope.accounts.context.SignalContext` loads them into DuckDB
once per run; the signal functions only join on them.
"""

from __future__ import annotations

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

#: query parameters that only track who shared a link (campaign tags, share buttons, click ids); a link to a target's
#: article with them removed is the target's link (case-insensitive regular expressions on the parameter name)
TRACKING_PARAMS: tuple[str, ...] = (
    r"utm_[a-z_]*", r"fbclid", r"gclid", r"dclid", r"msclkid", r"igshid", r"igsh", r"mc_cid", r"mc_eid", r"ref",
    r"ref_src", r"ref_url", r"referrer", r"s", r"t", r"si", r"from", r"share", r"shared", r"source", r"src",
    r"feature", r"via", r"cmpid", r"spm", r"_ga",
)
