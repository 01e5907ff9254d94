"""``serve --pseudonymise``: the report's keyed pseudonyms on every page and JSON answer, and the way back from a
pseudonym in a link to the account it stands for.

Why the report's :class:`~echoscope.report.pseudonymise.Pseudonymiser`: the same key gives the same
pseudonyms in the report, the exports and the explorer, so a reader can follow one account across all three.
Findings name their fields the way the pseudonymiser's column rules expect (``account_id``, ``handle_a``,
``post_id``, ``summary_text``, ...), so one ``record()`` walk covers every answer.

A keyed hash cannot be reversed, yet a link on a pseudonymised page carries the pseudonym. So this
pseudonymiser remembers every pseudonym it hands out (pseudonym -> account id or handle), and is primed at
start with the members of every cluster and the study's targets: any account a page links to is one it has
shown. Search, in this mode, looks only among those pseudonyms (typing a real handle would let anyone test
guesses against the pseudonyms).
"""

from __future__ import annotations

import threading
from typing import Any

from ..engine import Engine
from ..report.pseudonymise import Pseudonymiser, column_kind

#: at most this many pseudonyms are remembered (and primed); later ones are still shown, but a link to an
#: account beyond it answers "unknown" until the explorer restarts
MAX_REMEMBERED = 2_000_000

#: fields dropped from pseudonymised answers: the object id as stored (a post id, or a mentioned handle without
#: its @) -- the worded ``object`` and the pseudonymised ``post_id`` say the same
DROPPED_FIELDS = frozenset({"object_id"})


class ReversiblePseudonymiser(Pseudonymiser):
    """A :class:`Pseudonymiser` that remembers pseudonym -> original for account ids and handles."""

    def __init__(self, key: bytes, known_ids: set[str] | None = None) -> None:
        super().__init__(key, known_ids=known_ids)
        self.accounts: dict[str, str] = {}
        self.handles: dict[str, str] = {}
        self._lock = threading.Lock()

    def account(self, value: str | None) -> str | None:
        out = super().account(value)
        if out is not None and value is not None and len(self.accounts) < MAX_REMEMBERED:
            with self._lock:
                self.accounts.setdefault(out, str(value))
        return out

    def handle(self, value: str | None) -> str | None:
        out = super().handle(value)
        if out is not None and value is not None and len(self.handles) < MAX_REMEMBERED:
            with self._lock:
                self.handles.setdefault(out.lstrip("@").lower(), str(value).lstrip("@"))
        return out

    def original(self, ref: str) -> str | None:
        """The account id or ``@handle`` a pseudonym (``acct-...`` or ``@user-...``) stands for."""
        r = ref.strip()
        if r in self.accounts:
            return self.accounts[r]
        h = self.handles.get(r.lstrip("@").lower())
        return "@" + h if h else None

    def search(self, query: str, limit: int = 20) -> list[str]:
        """Remembered pseudonyms (handles, then ids) that start with ``query``."""
        q = query.strip().lstrip("@").lower()
        if not q:
            return []
        with self._lock:
            hs = sorted(p for p in self.handles if p.startswith(q))[:limit]
            ids = sorted(p for p in self.accounts if p.startswith(q))[: max(0, limit - len(hs))]
        return ["@" + h for h in hs] + ids

    def apply(self, obj: Any) -> Any:
        """``obj`` (a findings answer: dicts, lists, scalars) with every id, handle, name and text field
        pseudonymised by its name; ids met in the answer are also replaced where they stand in its texts."""
        self._collect_ids(obj)
        return self._walk(obj)

    def _collect_ids(self, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, str) and column_kind(k) == "id" and len(self.known_ids) < MAX_REMEMBERED:
                    self.known_ids.add(v)
                else:
                    self._collect_ids(v)
        elif isinstance(obj, list):
            for v in obj:
                self._collect_ids(v)

    def _walk(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            clean = {k: v for k, v in obj.items() if k not in DROPPED_FIELDS}
            out = self.record({k: v for k, v in clean.items() if not isinstance(v, (dict, list))})
            for k, v in clean.items():
                if isinstance(v, dict):
                    out[k] = self._walk(v)
                elif isinstance(v, list):
                    kind = column_kind(k)
                    out[k] = [self._walk(x) if isinstance(x, (dict, list)) else self.value(kind, x) for x in v]
            return {k: out[k] for k in clean if k in out}
        if isinstance(obj, list):
            return [self._walk(x) for x in obj]
        return obj


def prime(p: ReversiblePseudonymiser, engine: Engine, limit: int = 200_000) -> int:
    """Hand out the pseudonyms of cluster members and targets (at most ``limit`` accounts) so links to them
    resolve from the first page on; returns how many accounts were primed."""
    from ..findings.base import has_table

    parts = ["SELECT account_id FROM targets WHERE account_id IS NOT NULL"]
    if has_table(engine, "coord_members"):
        parts.append("SELECT CAST(account_id AS VARCHAR) FROM coord_members")
    rows = engine.raw.execute(f"""WITH ids AS (SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) LIMIT {int(limit)})
        SELECT i.account_id, a.handle FROM ids i LEFT JOIN (SELECT account_id, any_value(handle) AS handle
            FROM accounts WHERE account_id IN (SELECT account_id FROM ids) GROUP BY 1) a
        USING (account_id)""").fetchall()
    for aid, handle in rows:
        p.known_ids.add(str(aid))
        p.account(str(aid))
        if handle:
            p.handle(str(handle))
    return len(rows)


__all__ = ["DROPPED_FIELDS", "MAX_REMEMBERED", "ReversiblePseudonymiser", "prime"]
