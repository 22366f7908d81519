"""The API docs at /schema: Swagger UI served from our own files.

Litestar's own pages load their scripts from a CDN and start them with an inline script: the
docs then break on an offline home network, tell a third party who reads them, and need a CSP
that allows inline script. This page names only files under `webroot/` (Swagger UI vendored from
the npm package `swagger-ui-dist`, its version in the file names) and starts it from
`webroot/js/api-docs.js`, so the strict CSP of every other page holds here too.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin, YamlRenderPlugin

SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI_FILES = (f"vendor/swagger-ui-{SWAGGER_UI_VERSION}.css", f"vendor/swagger-ui-bundle-{SWAGGER_UI_VERSION}.js")


class ApiDocsPage(OpenAPIRenderPlugin):
    """Swagger UI over /schema/openapi.json, with no inline script or style."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        css, js = SWAGGER_UI_FILES
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        spec = html.escape(self.get_openapi_json_route(request))
        return (
            "<!doctype html>\n<html lang=\"en\">\n<head>\n"
            "  <meta charset=\"utf-8\">\n"
            "  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"  <title>{title} API</title>\n"
            "  <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\n"
            f"  <link rel=\"stylesheet\" href=\"/{css}\">\n"
            f"  <script src=\"/{js}\" defer></script>\n"
            "  <script src=\"/js/api-docs.js\" defer></script>\n"
            "</head>\n<body>\n"
            f"  <div id=\"swagger-ui\" data-spec-url=\"{spec}\"></div>\n"
            "  <noscript>The API docs need JavaScript; the schema itself is at "
            f"<a href=\"{spec}\">{spec}</a>.</noscript>\n"
            "</body>\n</html>\n"
        ).encode()


RENDER_PLUGINS = [ApiDocsPage(), YamlRenderPlugin()]
