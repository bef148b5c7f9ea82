"""The operator console's REST API (FastAPI): incidents, cameras, audit, live events."""

from vigil.api.app import create_app
from vigil.api.context import ApiSettings, FrameTap
from vigil.api.serve import ApiServerHandle, serve, start_api_thread, start_for_runner

__all__ = ["ApiServerHandle", "ApiSettings", "FrameTap", "create_app", "serve", "start_api_thread", "start_for_runner"]
