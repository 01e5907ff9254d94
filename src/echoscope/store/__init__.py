"""The study store: a directory of canonical tables as immutable Parquet parts, a manifest committed
atomically, the ingest that fills it, and the targets. It knows no analysis and no query engine.
"""

from .manifest import MANIFEST, Manifest, atomic_write_bytes, write_parquet
from .study import CONFIG, StudyStore, file_sha256, init_store, open_store

__all__ = ["CONFIG", "MANIFEST", "Manifest", "StudyStore", "atomic_write_bytes", "file_sha256", "init_store",
           "open_store", "write_parquet"]
