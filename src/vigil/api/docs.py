"""``/api/docs``: Swagger UI served from this origin, under a strict Content-Security-Policy.

FastAPI's default docs page loads Swagger UI from a public CDN into the logged-in
origin and runs an inline script; a compromised or unreachable CDN would then run
code with an operator's session, and the console must work offline anyway. Here the
assets come from the ``fastapi-offline`` package (MIT; it ships Swagger UI,
Apache-2.0) and the page's only script of ours is a static file, so ``script-src
'self'`` holds. Without the package the HTML docs answer 404 and
``/api/openapi.json`` stays available.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from vigil.api.auth import authenticated

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Vigil API</title>
<link rel="icon" href="/api/docs/assets/favicon.png">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/web/static/js/api-docs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False, dependencies=[Depends(authenticated)])


def assets_dir() -> Path | None:
    """Where the vendored Swagger UI files are, or ``None`` if ``fastapi-offline`` is not installed."""
    try:
        folder = Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        return None
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-store"}


@router.get("/api/docs")
def docs() -> HTMLResponse:
    if assets_dir() is None:
        raise HTTPException(404, "HTML docs need the fastapi-offline package; the document is /api/openapi.json")
    return HTMLResponse(PAGE, headers=_headers())


@router.get("/api/docs/assets/{name}")
def docs_asset(name: str) -> FileResponse:
    folder = assets_dir()
    if folder is None or name not in ASSETS:
        raise HTTPException(404, "no such docs asset")
    return FileResponse(folder / name, media_type=ASSETS[name], headers={"Cache-Control": "private, max-age=3600"})
