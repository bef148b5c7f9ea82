"""Writing the console's zone edits back into the operator's YAML file, keeping it theirs.

The file is read and written with ruamel.yaml's round-trip mode, so comments, key
order, quoting, flow or block style and indentation survive a save; only the
camera's ``zones`` and ``lines`` change. The new text must load as a valid
configuration before it replaces the file, the replacement is atomic (a temporary
file in the same folder, flushed, then renamed over the original), and the
previous version is kept next to it as ``<name>.bak``.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent


class ConfigEditError(ValueError):
    """The edit cannot be written (camera not in the file, file not a mapping, result invalid)."""


def _flow(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _entry(item: dict[str, Any], flow: bool) -> CommentedMap:
    out = CommentedMap()
    for key, value in item.items():
        if isinstance(value, list | tuple):
            value = _flow([_flow(list(v)) if isinstance(v, list | tuple) else v for v in value])
        out[key] = value
    if flow:
        out.fa.set_flow_style()
    return out


def _items(old: Any, new: list[dict[str, Any]]) -> CommentedSeq:
    """``new`` as YAML, in the style of the list it replaces (flow maps stay flow maps)."""
    flow = isinstance(old, list) and bool(old) and isinstance(old[0], CommentedMap) and old[0].fa.flow_style()
    seq = CommentedSeq([_entry(i, flow) for i in new])
    if isinstance(old, CommentedSeq) and old.fa.flow_style() and not new:
        seq.fa.set_flow_style()
    return seq


def replace_camera_zones(
    text: str, camera_id: str, zones: list[dict[str, Any]], lines: list[dict[str, Any]]
) -> str:
    """The configuration text with one camera's zones and lines replaced, everything else as it was."""
    _, indent, block_seq_indent = load_yaml_guess_indent(text)
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the operator's long lines
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        raise ConfigEditError("the configuration file is not a mapping")
    cameras = data.get("cameras")
    entry = next(
        (c for c in cameras or [] if isinstance(c, CommentedMap) and c.get("id") == camera_id),
        None,
    )
    if entry is None:
        raise ConfigEditError(f"camera {camera_id!r} is not in the configuration file")
    entry["zones"] = _items(entry.get("zones"), zones)
    entry["lines"] = _items(entry.get("lines"), lines)
    # The guess gives the sequence indent (to an item's content) and the dash's offset;
    # the mapping indent is their difference ("  - id:" is mapping 2, sequence 4, offset 2).
    sequence = indent or 2
    offset = block_seq_indent or 0
    yaml.indent(mapping=sequence - offset if sequence > offset else sequence, sequence=sequence, offset=offset)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_atomic(path: Path, text: str, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``text`` atomically; returns the backup of the previous version, if made.

    A crash at any point leaves either the old or the new file, never a mix. The new
    file gets the old one's permission bits (it may hold secrets).
    """
    path = Path(path).resolve()  # a symlinked config: write its target, keep the link
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
    saved = None
    if backup and path.exists():
        saved = path.with_name(path.name + ".bak")
        shutil.copy2(path, saved)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself is durable
    finally:
        os.close(dir_fd)
    return saved


def save_camera_zones(
    path: Path,
    camera_id: str,
    zones: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    check: Callable[[str], None] | None = None,
) -> Path | None:
    """Write a camera's zones and lines into the file at ``path``; returns the backup path.

    Parameters
    ----------
    check : callable, optional
        Called with the new text before anything is written; raise to refuse it (the
        API loads it as a configuration, so a save can never leave a file Vigil
        cannot start from).
    """
    new = replace_camera_zones(Path(path).read_text(encoding="utf-8"), camera_id, zones, lines)
    if check is not None:
        check(new)
    return write_atomic(Path(path), new)
