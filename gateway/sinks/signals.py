"""The gateway's view of the `signal` registry: declarations by key, ids once upserted."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from gateway.records import SignalSpec

UPSERT = """
INSERT INTO signal (key, equipment_code, name, unit, data_type, protocol, source, description)
VALUES (%(key)s, %(equipment_code)s, %(name)s, %(unit)s, %(data_type)s, %(protocol)s,
        %(source)s, %(description)s)
ON CONFLICT (key) DO UPDATE SET
    equipment_code = EXCLUDED.equipment_code, name = EXCLUDED.name, unit = EXCLUDED.unit,
    data_type = EXCLUDED.data_type, protocol = EXCLUDED.protocol, source = EXCLUDED.source,
    description = COALESCE(EXCLUDED.description, signal.description), active = true,
    updated_at = now()
WHERE (signal.equipment_code, signal.name, signal.unit, signal.data_type, signal.protocol,
       signal.source, signal.active)
      IS DISTINCT FROM (EXCLUDED.equipment_code, EXCLUDED.name, EXCLUDED.unit,
                        EXCLUDED.data_type, EXCLUDED.protocol, EXCLUDED.source, true)
   OR (EXCLUDED.description IS NOT NULL AND signal.description IS DISTINCT FROM
       EXCLUDED.description)
"""


class SignalRegistry:
    """Declared signals; `resolve` upserts the new or changed ones and learns their ids."""

    def __init__(self) -> None:
        self.specs: dict[str, SignalSpec] = {}
        self.ids: dict[str, int] = {}
        self._dirty: set[str] = set()

    def declare(self, specs: Iterable[SignalSpec]) -> None:
        """Add or update declarations (upserted at the next `resolve`)."""
        for spec in specs:
            if self.specs.get(spec.key) != spec:
                self.specs[spec.key] = spec
                self._dirty.add(spec.key)

    def declare_missing(self, specs: Iterable[SignalSpec]) -> None:
        """Declare only keys not known yet (e.g. from a spool file written by an older run)."""
        self.declare(spec for spec in specs if spec.key not in self.specs)

    def spec(self, key: str) -> SignalSpec:
        """The declaration of `key` (a bare one when undeclared)."""
        found = self.specs.get(key)
        if found is None:
            found = SignalSpec(key=key, equipment_code=None, name=key)
            self.declare([found])
        return found

    @property
    def pending(self) -> int:
        """Declarations not upserted yet."""
        return len(self._dirty)

    async def resolve(self, conn: psycopg.AsyncConnection, keys: Iterable[str] = ()) -> None:
        """Upsert dirty declarations and any of `keys` without an id; learns their ids."""
        for key in keys:
            if key not in self.ids and key not in self._dirty:
                self.spec(key)
                self._dirty.add(key)
        if not self._dirty:
            return
        todo = sorted(self._dirty)
        async with conn.cursor() as cur:
            await cur.executemany(UPSERT, [self.specs[key].row() for key in todo])
            await cur.execute("SELECT key, id FROM signal WHERE key = ANY(%s)", (todo,))
            for key, signal_id in await cur.fetchall():
                self.ids[str(key)] = int(signal_id)
        missing = [key for key in todo if key not in self.ids]
        if missing:  # pragma: no cover - the upsert guarantees the rows
            raise RuntimeError(f"signals missing after upsert: {missing[:5]}")
        self._dirty.difference_update(todo)
