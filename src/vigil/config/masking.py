"""Showing configuration without its secrets: masked by where a secret can sit, not by what a key is called.

A credential can hide in a URL's user info (``https://user:pw@host``), in any query
value (``?api_token=...``, ``?sig=...``), in the path (``/services/T0/B0/XXXX``
webhooks), in any HTTP header value (``Authorization``, ``X-Api-Key``, or a header
of any other name), and in the fields meant for secrets. Guessing from names
(``token``, ``key``...) misses most of these, so:

- URLs keep only their scheme, host and port; user info, path, query and
  fragment are replaced by ``***`` when present;
- every header value is ``***`` (the names stay, they say what is configured);
- of a service's other fields only those known to be harmless are shown as they
  are; anything else, including any field added later, is ``***``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from vigil.config.models import ServiceConfig

MASK = "***"
#: Fields of a service (and its targets) shown as they are; every other value is masked.
PLAIN_FIELDS = frozenset(
    {"id", "name", "timeout_s", "max_attempts", "host", "port", "topic_prefix", "tls", "client_id", "username"}
)
URL_FIELDS = frozenset({"url"})
HEADER_FIELDS = frozenset({"headers"})


def mask_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, with ``/***`` (or ``?***``) where it had more.

    Unparseable input gives ``***``. IPv6 hosts keep their brackets.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    out = f"{parts.scheme}://" + (f"{MASK}@" if "@" in parts.netloc else "") + netloc
    if parts.path not in ("", "/"):
        out += "/" + MASK
    if parts.query or parts.fragment:
        out += "?" + MASK
    return out


def mask_text(text: str, url: str) -> str:
    """``text`` (an error message, say) with every occurrence of ``url`` masked."""
    return text.replace(url, mask_url(url)) if url else text


def _mask(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if key in URL_FIELDS and isinstance(value, str):
        return mask_url(value)
    if key in HEADER_FIELDS and isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    if isinstance(value, dict):
        return {k: _mask(k, v) for k, v in value.items()}
    if key in PLAIN_FIELDS:
        return value
    return MASK


def public_service(service: ServiceConfig) -> dict[str, Any]:
    """A service as the API shows it: secrets, credentials and anything unknown masked."""
    return {k: _mask(k, v) for k, v in service.model_dump(mode="json").items()}
