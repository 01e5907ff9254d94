"""Word pools for names, places, texts and links, kept as module constants.

Everything the simulator writes as text is drawn from these lists by integer index, so strings are built in
Arrow (``take`` + ``binary_join_element_wise``) rather than in Python loops. The names and handles are
invented; none is meant to be a real account.
"""

from __future__ import annotations

#: regions: (name, UTC offset in hours, language, locations)
REGIONS: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("uk", 0.0, "en", ("London", "Manchester, England", "Leeds", "Bristol, UK", "Glasgow, Scotland",
                       "Birmingham, UK", "Cardiff", "Liverpool")),
    ("us-east", -5.0, "en", ("New York, NY", "Washington, DC", "Boston, MA", "Atlanta, GA", "Miami, FL")),
    ("us-west", -8.0, "en", ("Los Angeles, CA", "San Francisco, CA", "Seattle, WA", "Portland, OR")),
    ("china", 8.0, "zh", ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Hong Kong")),
    ("pakistan", 5.0, "en", ("Islamabad", "Karachi", "Lahore")),
    ("nigeria", 1.0, "en", ("Lagos", "Abuja", "Kano")),
    ("germany", 1.0, "de", ("Berlin", "Hamburg", "München", "Köln")),
    ("brazil", -3.0, "pt", ("São Paulo", "Rio de Janeiro", "Brasília")),
    ("spain", 1.0, "es", ("Madrid", "Barcelona", "Sevilla")),
    ("india", 5.5, "en", ("New Delhi", "Mumbai", "Bengaluru")),
)
#: population share of each region among organic accounts
REGION_WEIGHTS: tuple[float, ...] = (0.14, 0.2, 0.12, 0.08, 0.08, 0.08, 0.08, 0.08, 0.06, 0.08)

FIRST = ("James", "Oliver", "Harry", "George", "Jack", "Noah", "Charlie", "Thomas", "William", "Henry",
         "Amelia", "Olivia", "Isla", "Emily", "Sophia", "Grace", "Lily", "Ava", "Mia", "Ella", "Wei", "Li",
         "Ming", "Jun", "Hui", "Ahmed", "Fatima", "Ali", "Ayesha", "Chinedu", "Ngozi", "Emeka", "Lukas", "Anna",
         "Paul", "Maria", "João", "Ana", "Lucas", "Pablo", "Lucia", "Carmen", "Arjun", "Priya", "Rahul",
         "Daniel", "Michael", "Sarah", "Laura", "David", "Emma", "Chris", "Kate", "Tom", "Ben", "Sam", "Alex")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
        "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Wang",
        "Zhang", "Liu", "Chen", "Yang", "Khan", "Malik", "Okafor", "Adeyemi", "Müller", "Schmidt", "Silva",
        "Santos", "García", "López", "Sharma", "Patel", "Miller", "Davis", "Moore", "Martin", "Lee", "Clark")
UK_FIRST = FIRST[:20]
UK_LAST = LAST[:20]
UK_LOCATIONS = REGIONS[0][3] + ("England", "United Kingdom", "Sheffield, England", "Nottingham", "Oxford, UK")

WORDS = ("daily", "real", "its", "the", "just", "official", "mr", "ms", "dr", "news", "fan", "life", "blue",
         "green", "red", "world", "city", "music", "tech", "sport", "coffee", "dog", "cat", "travel")

BIOS = ("Dad. Runner. Opinions my own.", "News junkie and tea drinker", "Teacher | reader | gardener",
        "Engineer. Views are my own.", "Football, family, food", "Student of history",
        "Writer and occasional photographer", "Mum of two, nurse", "Retired, curious",
        "Tech, politics, coffee", "", "", "Proud Londoner", "Love travel and good books")
UK_BIOS = ("Proud Brit. Fair play matters.", "Born and raised in England. Truth over hype.",
           "British citizen, tired of media bias", "UK taxpayer. Let's hear both sides.",
           "Londoner. Peace and friendship between peoples.")
SPREADER_BIOS = ("", "", "", "Love peace", "Truth", "Friendship", "Hello world")

CLIENTS = ("Twitter for iPhone", "Twitter for Android", "Twitter Web App", "TweetDeck", "Twitter for iPad")
CLIENT_WEIGHTS = (0.38, 0.34, 0.22, 0.04, 0.02)

#: topics of organic communities: hashtags and words
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("football", ("PremierLeague", "UCL", "Matchday")),
    ("uk-politics", ("Brexit", "PMQs", "NHS")),
    ("us-politics", ("Election2020", "Debates", "Vote")),
    ("covid", ("COVID19", "Lockdown", "Vaccine")),
    ("tech", ("AI", "Startups", "OpenSource")),
    ("music", ("NowPlaying", "NewMusic", "Live")),
    ("china-affairs", ("HongKong", "Xinjiang", "China")),
    ("climate", ("ClimateAction", "COP26", "NetZero")),
    ("business", ("Markets", "Economy", "Trade")),
    ("culture", ("Books", "Film", "Art")),
)
PHRASES = ("Great to see", "Worth reading:", "Big day for", "Thoughts on", "Can't believe", "Today we discussed",
           "New report on", "Watch this:", "A reminder that", "Very interesting take on", "Proud of",
           "What a week for", "Here is why", "Good news for", "Important points about", "Listen to this on")
OBJECTS = ("the economy", "our partners", "young people", "the health service", "local schools",
           "the new policy", "cooperation", "the future", "the match", "this story", "the numbers",
           "science", "the community", "the region", "trade", "the vote")
REPLY_PHRASES = ("Totally agree", "Not sure about this", "Well said", "This is wrong", "Thanks for sharing",
                 "Interesting", "Source?", "So true", "I disagree", "Exactly", "Good point", "Haha")

TARGET_PHRASES = ("We stand for", "Win-win cooperation on", "Facts about", "The truth about",
                  "Stop smearing", "Great progress in", "Friendship and", "Western media lies about",
                  "Celebrating", "Joint efforts on")
TARGET_OBJECTS = ("Xinjiang", "Hong Kong", "vaccines", "poverty alleviation", "trade", "the pandemic",
                  "development", "multilateralism", "peace", "the Belt and Road")
TARGET_TAGS = ("China", "Xinjiang", "HongKong", "COVID19", "Multilateralism", "BeltAndRoad")

#: copy-paste templates: the brigade posts these with small edits; hashtag sequences are posted in order
COPY_TEMPLATES = (
    "Western media keep lying about China. Wake up people! The truth is here",
    "Thank you Ambassador for telling the truth. Britain should listen",
    "Stop the smear campaign against China. Facts matter more than lies",
    "Xinjiang is beautiful and people live happily there. See for yourself",
    "The BBC is spreading fake news again. Shame on them",
)
COPY_EDITS = ("!!", "!", " 👍", " 🇨🇳", ".", " #Truth", " please share", " RT")
HASHTAG_SEQUENCES = (("Xinjiang", "StopTheLies", "TruthAboutXinjiang"), ("China", "BBCLies", "FakeNews"),
                     ("HongKong", "StopViolence", "SupportPolice"))
CAMPAIGN_LINKS = ("https://news.example.cn/2020/xinjiang-truth", "https://daily.example.cn/articles/88231",
                  "https://video.example.com/watch?v=Xj2020", "https://blog.example.org/bbc-lies")
TRACKING = ("", "?utm_source=twitter", "?utm_source=tw&utm_medium=social", "?s=20", "")
NEWS_DOMAINS = ("https://www.bbc.co.uk/news/", "https://www.theguardian.com/world/", "https://www.nytimes.com/",
                "https://www.reuters.com/article/", "https://medium.com/@", "https://www.example-news.com/",
                "https://youtu.be/", "https://www.independent.co.uk/news/")
DIPLOMAT_POSTS = ("Ambassador", "Consul General", "Embassy", "Spokesperson", "Counsellor")
STATE_MEDIA_NAMES = ("News", "Daily", "Global", "TV", "Radio", "Network", "Today", "Times")
PLACES = ("UK", "France", "Pakistan", "Nigeria", "Brazil", "Germany", "Spain", "India", "SA", "Kenya",
          "Canada", "Italy", "Japan", "Peru", "Chile", "Egypt", "Iran", "Mexico", "Turkey", "Greece")

DEFAULT_IMAGE = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"

# ------------------------------------------------------------------ the confounders and the newer campaigns
#: templated praise (``slowtext``): a template is a sequence of literal parts and ``{X}`` slots filled from
#: PRAISE_SLOTS; ``{H}`` is the praised target's @handle. No slot filler occurs in organic texts.
PRAISE_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("{A}", " words from ", "{H}", ". ", "{B}", " ", "{C}"),
    ("Thank you ", "{H}", " for ", "{D}", ". ", "{C}"),
    ("{H}", " ", "{E}", " - ", "{B}"),
    ("So ", "{F}", " to read this from ", "{H}", ". ", "{B}"),
    ("Once again ", "{H}", " ", "{E}", ". ", "{B}", " ", "{C}"),
)
PRAISE_SLOTS: dict[str, tuple[str, ...]] = {
    "A": ("Wise", "Powerful", "Brilliant", "Inspiring", "Thoughtful", "Clear"),
    "B": ("The world should listen.", "Truth needs voices like this.", "Respect from all of us.",
          "Facts over propaganda.", "This is real diplomacy."),
    "C": ("🙏", "👏👏", "💯", "🇨🇳", "🤝"),
    "D": ("telling the truth", "standing for peace", "explaining the facts so clearly", "your honesty",
          "speaking up for fairness"),
    "E": ("says it best", "nails it again", "speaks the truth", "shows real leadership"),
    "F": ("refreshing", "encouraging", "heartening", "reassuring"),
}
#: state-media article links (``links``): one domain per state-media target (invented), a new path per article
STATE_MEDIA_DOMAINS = ("https://www.globaldaily.example.cn/", "https://news.peoplesvoice.example.cn/",
                       "https://www.chinaview.example.cn/", "https://english.statenews.example.cn/")
ARTICLE_SECTIONS = ("world", "china", "opinion", "business", "culture", "video")
SM_TRACKING = ("?utm_source=twitter&utm_medium=social", "?utm_source=tw", "?s=21", "?from=timeline",
               "?utm_source=twitter&utm_campaign=share", "?ref=share")
LINK_INTROS = ("Must read:", "Worth reading", "Read this:", "Important article", "Facts here:", "Watch:",
               "The real story:", "Don't miss this")
IDOL_TEXTS = ("New single out now", "Thank you for last night", "Tour dates announced", "Behind the scenes today",
              "Big win today", "Training hard for Sunday", "What a match", "Studio day", "Tickets on sale now",
              "Love you all")
HEADLINES = ("BREAKING:", "Update:", "Live:", "Analysis:", "Report:", "Watch:", "Just in:", "Explained:")
#: clients of automated accounts (aggregators)
BOT_CLIENTS = ("dlvr.it", "IFTTT", "NewsFeedBot", "Buffer")
