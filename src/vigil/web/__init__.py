"""Operator console: server-rendered page shells (Jinja2) plus small JS modules over the JSON API.

Mount with ``app.include_router(vigil.web.router)``; see README.md in this folder.
"""

from vigil.web.pages import CSP, STATIC_DIR, router

__all__ = ["CSP", "STATIC_DIR", "router"]
