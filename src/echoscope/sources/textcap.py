"""Cut over-long free-text values of a canonical batch to the limits of :data:`echoscope.schema.TEXT_LIMITS`.

Why here and shaped so: the ingest sink (:class:`echoscope.store.ingest.FileSink`) calls :func:`cap_text` on
every batch any reader hands over, so one rule holds for every format and no reader repeats it; it lives
beside the readers because it is a pure Arrow transform of a canonical batch, testable without a study.

It must cost nothing on ordinary data, which never comes near the limits. A string's byte length is read from
the Arrow offsets without touching its bytes, and a value of at most ``limit`` bytes holds at most ``limit``
characters, so the usual batch is done after one ``binary_length`` and one ``max`` per field and returned as
it came. Only values longer than the limit in bytes are measured in characters (``utf8_length``), and only
those longer in characters are sliced (on character boundaries) and put back with ``replace_with_mask``.

Each cut gives one note (``line``, ``field``, ``reason``, ``raw``) for the quarantine table. The reason names
the limit, the original length and the row's key; ``line`` is null because a batch no longer knows the lines
its rows came from. The note does not count as a quarantined record: the row is kept (see docs/sources.md).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S
from .base import MAX_RAW

#: characters of the row's key shown in a reason
KEY_CHARS = 100

NOTE_SCHEMA = pa.schema([("line", pa.int64()), ("field", pa.string()), ("reason", pa.string()),
                         ("raw", pa.string())])


def cap_text(table: str, data: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """Cut the values of ``data`` (rows of canonical ``table``) that are longer than the table's limits.

    Parameters
    ----------
    table : str
        The canonical table ``data`` holds rows of (``posts``, ``accounts``, ...).
    data : pyarrow.Table
        Rows conformed to the table's schema.

    Returns
    -------
    (pyarrow.Table, pyarrow.Table or None)
        ``data`` itself when nothing is too long (the usual case), else a copy with the long values cut; and
        the notes for the quarantine table (columns ``line``, ``field``, ``reason``, ``raw``), or None.
    """
    limits = S.TEXT_LIMITS.get(table)
    if not limits or data.num_rows == 0:
        return data, None
    key = next((k for k in S.KEYS[table] if k != "platform"), None)
    notes: list[pa.Table] = []
    for field, limit in limits.items():
        col = data.column(field)
        is_list = pa.types.is_list(col.type)
        values = pc.list_flatten(col) if is_list else col
        nbytes = pc.max(pc.binary_length(values)).as_py()
        if nbytes is None or nbytes <= limit:
            continue  # no value can hold more characters than bytes
        cut, note = _cut_column(col.combine_chunks(), field, limit, key, data.column(key) if key else None)
        if note is not None:
            data = data.set_column(data.schema.get_field_index(field), data.schema.field(field), cut)
            notes.append(note)
    return data, (pa.concat_tables(notes) if notes else None)


def _cut_column(arr: pa.Array, field: str, limit: int, key: str | None, keys: pa.ChunkedArray | None
                ) -> tuple[pa.Array, pa.Table | None]:
    """``arr`` with its values (or list items) over ``limit`` characters cut, and the notes; None when none."""
    is_list = pa.types.is_list(arr.type)
    values = pc.list_flatten(arr) if is_list else arr
    chars = pc.utf8_length(values)
    long = pc.fill_null(pc.greater(chars, limit), False)
    idx = pc.indices_nonzero(long)
    if len(idx) == 0:
        return arr, None
    originals = values.take(idx)
    new_values = pc.replace_with_mask(values, long, pc.utf8_slice_codeunits(originals, 0, limit))
    if is_list:
        offsets = pc.subtract(arr.offsets, arr.offsets[0])
        out = pa.ListArray.from_arrays(offsets, new_values, type=arr.type, mask=arr.is_null())
        rows = pc.list_parent_indices(arr).take(idx)
    else:
        out = new_values
        rows = idx
    what = f"an item of {field}" if is_list else field
    long_chars = chars.take(idx)
    lengths = long_chars.to_pylist()
    row_keys = [None] * len(idx) if keys is None else keys.take(rows).to_pylist()
    reasons = [f"{what} longer than {limit:,} characters: cut to {limit:,} (original {n:,}); "
               f"{_key_phrase(key, k)}the rest of the row is kept" for n, k in zip(lengths, row_keys)]
    # the original value as quarantine keeps every raw value: at most MAX_RAW characters, "…" when cut
    raw = pc.if_else(pc.greater(long_chars, MAX_RAW),
                     pc.binary_join_element_wise(pc.utf8_slice_codeunits(originals, 0, MAX_RAW), "…", ""),
                     originals)
    note = pa.table([pa.nulls(len(idx), pa.int64()), pa.array([field] * len(idx), pa.string()),
                     pa.array(reasons, pa.string()), raw], schema=NOTE_SCHEMA)
    return out, note


def _key_phrase(name: str | None, value: str | None) -> str:
    """``post_id 123, `` (the value shortened), or nothing when the row has no key value."""
    return "" if name is None or value is None else f"{name} {value[:KEY_CHARS]}, "


__all__ = ["cap_text"]
