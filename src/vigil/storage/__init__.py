"""Where redacted pixels go: files on disk (clips, snapshots, redacted copies).

Also the incident database (:class:`Store`, migrations, retention); those names
are imported on first use so that redaction alone does not load SQLAlchemy.
"""

from typing import Any

from vigil.storage.media import VideoWriter, write_image

_LAZY = {
    "Store": "vigil.storage.store",
    "migrate": "vigil.storage.schema",
    "run_retention": "vigil.storage.retention",
    "RetentionReport": "vigil.storage.retention",
    "RetentionJob": "vigil.storage.retention",
    "IncidentRecord": "vigil.storage.records",
    "OutboxItem": "vigil.storage.records",
    "OutboxEntry": "vigil.storage.records",
    "CameraRecord": "vigil.storage.records",
}

__all__ = ["VideoWriter", "write_image", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vigil.storage' has no attribute {name!r}")
