"""Target accounts: the accounts whose amplification a study measures, grouped (e.g. diplomats, state media).

Targets are named the way people name them -- ``@handle`` -- long before the study has seen their ids, so a
target row keeps what the user gave (an id or a handle) and the ``targets`` view resolves handles against the
``accounts`` table at query time (case-insensitive). Adding the same target again updates its group and label.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from . import schema as S
from .errors import ConfigError, SourceError
from .study import Study


def parse_target(item: str) -> tuple[str | None, str | None]:
    """Split a user's target into ``(account_id, handle)``.

    ``@name`` is a handle; ``id:123``, a bare number, or a DID (``did:plc:...``) is an account id; any other
    bare word is taken as a handle.
    """
    s = item.strip()
    if not s:
        raise ConfigError("empty target name")
    if s.startswith("@"):
        h = s[1:]
        if not h:
            raise ConfigError(f"target '{item}' has no handle after '@'")
        return None, h
    if s.startswith("id:"):
        return s[3:], None
    if s.isdigit() or s.startswith("did:"):
        return s, None
    return None, s


def read_targets_file(path: str) -> list[tuple[str | None, str | None, str | None, str | None]]:
    """Read a targets CSV: columns ``account_id`` and/or ``handle``, optional ``group`` and ``label``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise SourceError("no such file", file=path) from exc
    except UnicodeDecodeError as exc:
        raise SourceError("not UTF-8 text; save the targets file as UTF-8 CSV", file=path) from exc
    reader = csv.DictReader(io.StringIO(text))
    cols = {c.strip().lower() for c in reader.fieldnames or []}
    if not cols & {"account_id", "handle"}:
        raise SourceError(f"needs a column 'account_id' or 'handle' (header seen: {sorted(cols)})",
                          file=path, line=1)
    rows = []
    for i, row in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        aid = row.get("account_id") or None
        handle = (row.get("handle") or "").lstrip("@") or None
        if not aid and not handle:
            raise SourceError("row has neither account_id nor handle", file=path, line=i)
        rows.append((aid, handle, row.get("group") or None, row.get("label") or None))
    return rows


def add_targets(study: Study, items: Iterable[tuple[str | None, str | None, str | None, str | None]]) -> int:
    """Add or update targets ``(account_id, handle, group, label)``; returns the number of targets after."""
    current = study.to_arrow("targets_raw").to_pylist()
    index: dict[tuple[str, str], dict[str, str | None]] = {}
    for r in current:
        index[_key(r["account_id"], r["handle"])] = r
    for aid, handle, group, label in items:
        k = _key(aid, handle)
        old = index.get(k, {})
        index[k] = {"account_id": aid or old.get("account_id"), "handle": handle or old.get("handle"),
                    "group": group if group is not None else old.get("group"),
                    "label": label if label is not None else old.get("label")}
    table = pa.Table.from_pylist(list(index.values()), schema=S.TARGETS)
    study.set_targets(table)
    return table.num_rows


def remove_targets(study: Study, names: Iterable[str]) -> int:
    keys = {_key(*parse_target(n)) for n in names}
    current = study.to_arrow("targets_raw").to_pylist()
    kept = [r for r in current if _key(r["account_id"], r["handle"]) not in keys]
    study.set_targets(pa.Table.from_pylist(kept, schema=S.TARGETS))
    return len(current) - len(kept)


def _key(aid: str | None, handle: str | None) -> tuple[str, str]:
    return ("id", aid) if aid else ("handle", (handle or "").lower())
