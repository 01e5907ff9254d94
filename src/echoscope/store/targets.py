"""Target accounts: the accounts whose amplification a study measures, grouped (e.g. diplomats, state media).

Targets are named the way people name them -- ``@handle`` -- often before the study has seen their ids, so a
target row keeps what the user gave (an id, a handle, or both) and the engine's ``targets`` view resolves
handles against the ``accounts`` table at query time (case-insensitive) and keeps one row per account.

One account is one target, however it was named: adding ``@AmbLiu`` and later the same account by id (from a
file) updates the one target instead of adding a second, both here (when the study already knows the
account, the row gets both its id and handle) and in the view (a handle and an id that turn out to be the same
account after a later ingest count once). Removing by handle or id removes every row naming that account.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import schema as S
from ..errors import ConfigError, SourceError
from .parts import parquet_select
from .study import StudyStore

TargetItem = tuple[str | None, str | None, str | None, str | None]  # account_id, handle, group, label


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


def read_targets_file(path: str) -> list[TargetItem]:
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


def _read(study: StudyStore, table: str, cols: list[str]) -> list[dict[str, Any]]:
    """Small reads of the store's own parts (targets, and the account ids/handles they name)."""
    import duckdb

    schema = S.ALL_TABLES[table]
    sql = parquet_select(study.parts(table), schema)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        q = ", ".join(f'"{c}"' for c in cols)
        return con.execute(f"SELECT {q} FROM ({sql})").fetch_arrow_table().to_pylist()
    finally:
        con.close()


class _Accounts:
    """Account ids and handles the study knows, to give each target both (small lookups, case-insensitive)."""

    def __init__(self, study: StudyStore, handles: set[str], ids: set[str]) -> None:
        import duckdb

        self.by_handle: dict[str, str] = {}
        self.by_id: dict[str, str] = {}
        if not (handles or ids) or not study.parts("accounts"):
            return
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone='UTC'")
            sql = parquet_select(study.parts("accounts"), S.ACCOUNTS)
            rows = con.execute(f"""SELECT account_id, handle FROM ({sql})
                WHERE handle IS NOT NULL AND (lower(handle) IN (SELECT unnest(?)) OR account_id IN (SELECT unnest(?)))
                QUALIFY row_number() OVER (PARTITION BY lower(handle) ORDER BY observed_at DESC NULLS LAST) = 1""",
                               [sorted(handles), sorted(ids)]).fetchall()
        finally:
            con.close()
        for aid, h in rows:
            self.by_handle.setdefault(h.lower(), aid)
            self.by_id.setdefault(aid, h)

    def resolve(self, aid: str | None, handle: str | None) -> tuple[str | None, str | None]:
        if aid is None and handle is not None:
            aid = self.by_handle.get(handle.lower())
        if handle is None and aid is not None:
            handle = self.by_id.get(aid)
        return aid, handle


def _same(row: dict[str, Any], aid: str | None, handle: str | None) -> bool:
    """Does a stored target row name the account ``(aid, handle)``?"""
    if aid is not None and row.get("account_id") == aid:
        return True
    return handle is not None and (row.get("handle") or "").lower() == handle.lower()


def add_targets(study: StudyStore, items: Iterable[TargetItem]) -> int:
    """Add or update targets ``(account_id, handle, group, label)``; returns the number of targets after.

    A target that names an account already among the targets (by id or handle, whichever the study can tell)
    updates that target's group and label instead of adding another row.
    """
    items = list(items)
    current = _read(study, "targets", ["account_id", "handle", "group", "label"])
    names = [(a, h) for a, h, _, _ in items] + [(r["account_id"], r["handle"]) for r in current]
    acc = _Accounts(study, {h.lower() for _, h in names if h}, {a for a, _ in names if a})
    rows = []
    for r in current:
        aid, handle = acc.resolve(r["account_id"], r["handle"])
        rows.append({"account_id": aid, "handle": handle, "group": r["group"], "label": r["label"]})
    for aid, handle, group, label in items:
        aid, handle = acc.resolve(aid, handle)
        same = [r for r in rows if _same(r, aid, handle)]
        old: dict[str, Any] = same[0] if same else {}
        merged = {"account_id": aid or old.get("account_id"), "handle": handle or old.get("handle"),
                  "group": group if group is not None else old.get("group"),
                  "label": label if label is not None else old.get("label")}
        rows = [r for r in rows if not any(r is s for s in same)] + [merged]
    table = pa.Table.from_pylist(rows, schema=S.TARGETS)
    study.set_targets(table)
    return table.num_rows


def remove_targets(study: StudyStore, names: Iterable[str]) -> int:
    """Remove the targets that name any of ``names`` (``@handle``, an id); returns how many rows went.

    Raises
    ------
    ConfigError
        When a name matches no target (nothing is removed then).
    """
    names = list(names)
    wanted = [parse_target(n) for n in names]
    current = _read(study, "targets", ["account_id", "handle", "group", "label"])
    acc = _Accounts(study, {h.lower() for _, h in wanted if h} | {(r["handle"] or "").lower() for r in current},
                    {a for a, _ in wanted if a} | {r["account_id"] for r in current if r["account_id"]})
    keys = [acc.resolve(a, h) for a, h in wanted]
    probes = [dict(zip(("account_id", "handle"), acc.resolve(r["account_id"], r["handle"]))) for r in current]
    unmatched = [n for n, (a, h) in zip(names, keys) if not any(_same(p, a, h) for p in probes)]
    if unmatched:
        known = ", ".join(sorted({f"@{p['handle']}" if p["handle"] else str(p["account_id"]) for p in probes}))
        raise ConfigError(f"no target named {', '.join(unmatched)}; nothing removed (targets: {known or 'none'})")
    kept = [r for r, p in zip(current, probes) if not any(_same(p, a, h) for a, h in keys)]
    removed = len(current) - len(kept)
    if removed:
        study.set_targets(pa.Table.from_pylist(kept, schema=S.TARGETS))
    return removed


__all__ = ["TargetItem", "add_targets", "parse_target", "read_targets_file", "remove_targets"]
