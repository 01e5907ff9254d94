"""echoscope: find and measure coordinated inauthentic amplification on social media.

It detects and measures; it never creates, operates or hides accounts.

>>> import echoscope
>>> study = echoscope.init_study("mystudy")            # doctest: +SKIP
>>> study.ingest(["tweets.jsonl.gz"])                   # doctest: +SKIP
>>> study.table("engagements").to_pandas()              # doctest: +SKIP
"""

from .errors import ConfigError, EchoscopeError, SchemaError, SourceError, StudyError
from .study import Study, init_study, open_study

__version__ = "0.1.0"

__all__ = ["Study", "open_study", "init_study", "EchoscopeError", "ConfigError", "SourceError", "SchemaError",
           "StudyError", "__version__"]
