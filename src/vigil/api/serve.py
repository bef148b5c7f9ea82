"""Running the API: ``vigil serve`` (API alone) and a background server thread for ``vigil run``."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class ApiServerHandle:
    """A uvicorn server running in a daemon thread; :meth:`stop` shuts it down gracefully."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def uvicorn_options(app: FastAPI) -> dict[str, Any]:
    """Server options every Vigil server uses.

    uvicorn's own proxy-header handling is off: by default it believes
    ``X-Forwarded-For`` from loopback, which lets any local process (or a proxy
    that forwards client headers) forge the client address. The app applies
    ``api.trusted_proxies`` itself (:mod:`vigil.api.middleware`). With
    ``api.tls_certfile`` the server speaks HTTPS directly.
    """
    api = app.state.vigil.config.api
    options: dict[str, Any] = {"proxy_headers": False, "server_header": False}
    if api.tls_certfile is not None:
        options |= {"ssl_certfile": str(api.tls_certfile), "ssl_keyfile": str(api.tls_keyfile)}
    return options


def start_api_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 8080, *, wait_s: float = 10.0
) -> ApiServerHandle:
    """Serve ``app`` from a background thread (signal handlers stay with the main thread)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", **uvicorn_options(app)
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name="vigil-api", daemon=True)
    thread.start()
    handle = ApiServerHandle(server, thread)
    deadline = threading.Event()
    for _ in range(int(wait_s / 0.05)):
        if server.started or not thread.is_alive():
            break
        deadline.wait(0.05)
    if not server.started:
        handle.stop(1.0)
        raise RuntimeError(f"API server did not start on {host}:{port}")
    return handle


def serve(config_path: Path | str, host: str = "127.0.0.1", port: int = 8080) -> int:
    """``vigil serve``: the API and console over the configured database, without cameras."""
    from vigil.api.app import create_app
    from vigil.config import load_config
    from vigil.storage.store import Store

    config_path = Path(config_path)
    config = load_config(config_path)
    Path(config.storage.media_dir).mkdir(parents=True, exist_ok=True)
    store = Store(config.storage.database_url)
    try:
        app = create_app(config, store, None, config_path)
        uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(app))
    finally:
        store.close()
    return 0


def start_for_runner(
    runner: Any, config_path: Path | str | None, host: str = "127.0.0.1", port: int = 8080
) -> ApiServerHandle:
    """``vigil run`` hook: serve the API over a :class:`LiveRunner`'s store, with its frames and events.

    Stop the returned handle before ``runner.stop()`` (which closes the store).
    """
    from vigil.api.app import create_app

    app = create_app(
        runner.config,
        runner.store,
        runner,
        Path(config_path) if config_path else None,
        redactor=getattr(runner, "redactor", None),  # the process's one Redactor, not a second one
    )
    runner.listeners.append(app.state.broadcaster.publish)
    return start_api_thread(app, host, port)
