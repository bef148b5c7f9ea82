"""Where redacted pixels go: files on disk (clips, snapshots, redacted copies)."""

from vigil.storage.media import VideoWriter, write_image

__all__ = ["VideoWriter", "write_image"]
