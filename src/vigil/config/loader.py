"""Load the YAML configuration, expand ``${ENV}`` secrets, report every error with its place.

Errors are collected, not raised one at a time: ``vigil check-config`` shows
each with its dotted path in the file (``cameras[1].zones[0].polygon``) and line.

``${VAR}`` is expanded only in the fields listed in :data:`EXPANDED_FIELDS`
(secrets, URLs, file locations). Everywhere else it is plain text, in particular
in what the console writes into the file (zones and lines): a value saved through
the API must never pull a secret out of the environment, nor stop Vigil from
starting because a variable of that name is unset.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vigil.config.models import VigilConfig

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: Where ``${VAR}`` and ``${VAR:-default}`` are expanded; ``*`` matches any list index or key.
EXPANDED_FIELDS: tuple[tuple[str, ...], ...] = (
    ("cameras", "*", "source", "url"),
    ("services", "*", "webhook", "url"),
    ("services", "*", "webhook", "secret"),
    ("services", "*", "webhook", "headers", "*"),
    ("services", "*", "mqtt", "host"),
    ("services", "*", "mqtt", "username"),
    ("services", "*", "mqtt", "password"),
    ("storage", "database_url"),
    ("storage", "media_dir"),
    ("detector", "model_path"),
    ("redaction", "detector", "model_path"),
    ("rules", "*", "model_path"),
    ("cameras", "*", "rules", "*", "model_path"),
    ("api", "tls_certfile"),
    ("api", "tls_keyfile"),
)


def expanded_here(path: tuple[Any, ...]) -> bool:
    """Whether ``${VAR}`` is expanded at ``path`` (a tuple of keys and list indices)."""
    return any(
        len(p) == len(path) and all(want == "*" or want == got for want, got in zip(p, path, strict=True))
        for p in EXPANDED_FIELDS
    )


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where it is and what is wrong."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path} (line {self.line})" if self.line else self.path or "<top level>"
        return f"{where}: {self.message}"


class ConfigError(ValueError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: {len(issues)} error(s)\n" + "\n".join(f"  {i}" for i in issues))


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow ``loc`` through the composed YAML tree to the node's line (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _expand(value: Any, path: tuple[Any, ...], issues: list[ConfigIssue], extra: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*path, k), issues, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), issues, extra) for i, v in enumerate(value)]
    if isinstance(value, str) and expanded_here(path):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in extra:
                return extra[name]
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            issues.append(ConfigIssue(_format_path(path), None, f"environment variable {name} is not set"))
            return ""

        return _VAR.sub(sub, value)
    return value


def load_config_text(text: str, source: str = "<config>", config_dir: Path | None = None) -> VigilConfig:
    """Parse and validate configuration text.

    ``${VAR}`` and ``${VAR:-default}`` in the fields of :data:`EXPANDED_FIELDS`
    are replaced from the environment; ``${CONFIG_DIR}`` is the folder of the
    configuration file. Elsewhere they are kept as written.

    Raises
    ------
    ConfigError
        With every problem found (YAML syntax, unknown keys, bad values, unset variables).
    """
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(source, [ConfigIssue("", mark.line + 1 if mark else None, f"invalid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", 1, "the file must be a mapping with at least 'cameras'")])
    issues: list[ConfigIssue] = []
    extra = {"CONFIG_DIR": str((config_dir or Path.cwd()).resolve())}
    data = _expand(data, (), issues, extra)
    for issue in issues:
        object.__setattr__(issue, "line", _line_of(root, tuple(_split(issue.path))))
    try:
        config = VigilConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-"))))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of the schema)"
            issues.append(ConfigIssue(_format_path(loc), _line_of(root, loc), msg))
        raise ConfigError(source, issues) from None
    if issues:
        raise ConfigError(source, issues)
    return config


def _split(path: str) -> list[Any]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return parts


def load_config(path: Path | str) -> VigilConfig:
    """Load a configuration file; see :func:`load_config_text`.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or invalid.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("", None, f"cannot read file: {exc.strerror or exc}")]) from exc
    return load_config_text(text, str(path), path.parent)
