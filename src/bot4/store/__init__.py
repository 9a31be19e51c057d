"""Persistence: the event journal, SQLite by default, PostgreSQL with a pool, crash recovery.

See ``docs/persistence.md``. The engines know nothing of it: a :class:`Recorder` journals what
they publish on the bus, a :class:`JournalWriter` commits it in batches off the hot path, a
:class:`WriteAheadClient` holds each order until its intent is durable, and :func:`recover`
rebuilds the node's state at start-up and reconciles it with the venues.
"""

from bot4.store.recorder import Recorder
from bot4.store.recovery import RecoveryReport, rebuild_order, recover
from bot4.store.schema import CODE_VERSION, check_schema, schema_version, upgrade
from bot4.store.store import Store, StoreConfig, backend_for
from bot4.store.writeahead import WriteAheadClient
from bot4.store.writer import JournalWriter, WriterConfig, WriterStats

__all__ = [
    "CODE_VERSION",
    "JournalWriter",
    "Recorder",
    "RecoveryReport",
    "Store",
    "StoreConfig",
    "WriteAheadClient",
    "WriterConfig",
    "WriterStats",
    "backend_for",
    "check_schema",
    "rebuild_order",
    "recover",
    "schema_version",
    "upgrade",
]
