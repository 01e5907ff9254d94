"""Live collectors that append to a study: Bluesky Jetstream and Mastodon, plus watch mode.

Why a package of small modules: receiving (``bluesky``, ``mastodon``), durable appends (``store``), profile
lookups (``profiles``), alerting (``watch``) and the test/benchmark replay server (``replay``) fail and are
tested separately; the parsers live with the file readers (:mod:`echoscope.sources.jetstream`,
:mod:`echoscope.sources.mastodon`) so a recorded stream and a collected one give the same rows. The network
packages (``websockets``, ``atproto``, ``Mastodon.py``) are the ``live`` extra and are imported only when a
collector runs. See docs/live.md.
"""

from .store import CollectStore

__all__ = ["CollectStore"]
