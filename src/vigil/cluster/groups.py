"""How cameras are split into groups, and the configuration each group actor runs with.

A group is one Ray actor (one process) running the embedded runner's per-camera
stages for its cameras. Everything here is plain Python, so it is checked without
Ray installed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from vigil.config.models import VigilConfig

EXTRA_HINT = "pip install -e .[cluster]"


class ClusterError(RuntimeError):
    """Cluster mode cannot start (no Ray, SQLite, no cluster to join); the message says what to do."""


def require_ray() -> ModuleType:
    """Import Ray, or say which extra installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(
            f"--cluster needs Ray, which is not installed: install Vigil's cluster extra ({EXTRA_HINT})"
        ) from exc
    return ray


def check_store(config: VigilConfig) -> None:
    """Cluster mode needs one database every node reaches: PostgreSQL, never a SQLite file."""
    url = config.storage.database_url
    if not url.startswith("postgresql"):
        raise ClusterError(
            f"storage.database_url: cluster mode needs PostgreSQL (postgresql+psycopg://user:pw@host/db), "
            f"not {url.split(':', 1)[0]}: every node writes to one store, which a SQLite file cannot be"
        )


def plan_groups(config: VigilConfig) -> list[list[str]]:
    """The enabled cameras in groups of ``cluster.cameras_per_group``, in configuration order."""
    ids = [cam.id for cam in config.cameras if cam.enabled]
    size = config.cluster.cameras_per_group
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def group_name(index: int) -> str:
    return f"group-{index:04d}"


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def shared_media_dir(config: VigilConfig, base: Path | None = None) -> Path:
    """``storage.media_dir`` made absolute: the shared folder every node writes to and the API serves from."""
    base = (base or Path.cwd()).resolve()
    return _absolute(Path(config.storage.media_dir), base)


def group_config(config: VigilConfig, camera_ids: list[str], name: str, base: Path | None = None) -> VigilConfig:
    """The configuration a group actor runs: only its cameras enabled, absolute paths, its own journal.

    Ray starts actors in processes whose working folder is not the driver's, so
    relative paths (the media folder, the journal, file sources) are made absolute
    against ``base`` (the driver's working folder). Media go to the shared
    ``storage.media_dir``; each group has its own event journal in
    ``cluster.journal_dir``.
    """
    base = (base or Path.cwd()).resolve()
    cluster, storage = config.cluster, config.storage
    media = shared_media_dir(config, base)
    journal_dir = cluster.journal_dir or storage.resolved_journal_path().parent
    journal = _absolute(Path(journal_dir), base) / f"events-{name}.journal"
    wanted = set(camera_ids)
    cameras = []
    for cam in config.cameras:
        if cam.id not in wanted:
            # Kept, disabled: the group's dispatchers deliver any group's events (one outbox), and formats
            # such as DATEX II need every camera's position.
            cameras.append(cam.model_copy(update={"enabled": False}))
            continue
        url = cam.source.url
        if "://" not in url and not Path(url).is_absolute():
            cam = cam.model_copy(update={"source": cam.source.model_copy(update={"url": str(base / url)})})
        cameras.append(cam)
    missing = wanted - {cam.id for cam in cameras if cam.enabled}
    if missing:
        raise ValueError(f"group {name}: unknown camera(s) {', '.join(sorted(missing))}")
    storage = storage.model_copy(update={"media_dir": media, "journal_path": journal})
    return config.model_copy(update={"cameras": cameras, "storage": storage})
