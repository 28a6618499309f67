"""Server-rendered HTML: one Jinja2 environment (autoescaped), the shared base template with its
inline stylesheet, the Content-Security-Policy that goes with it, and HTML error pages.

The `/account/` area and the store pages (`/s/...`) are rendered here; everything under `/api`
stays JSON.
"""

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from app.observability.context import current_request_id
from app.web.assets import CART_SCRIPT
from app.web.rendered import RenderedPages

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Paths whose errors are answered as HTML pages rather than JSON.
HTML_PREFIXES = ("/s/", "/account")
HTML = "text/html; charset=utf-8"
# Rendered store pages kept per worker (a 24-product page is 20-60 KB; the rows they are kept
# under take about as much again).
RENDERED_BUDGET_BYTES = 8 * 1024 * 1024


def csp_hash(text: str) -> str:
    """The CSP source naming exactly this inline text."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


class Pages:
    """Renders the service's own pages; one per app, built by the app factory."""

    def __init__(self, *, site_name: str) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(("html", "htm", "xml")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates are read once: no file check per render on the store pages' hot path.
            auto_reload=False,
        )
        # The stylesheet is inlined in every page (no request for it on a slow network) and
        # allowed by its hash, so the policy needs no 'unsafe-inline' and no per-response nonce.
        self.stylesheet = (TEMPLATES / "style.css").read_text()
        self.env.globals.update(
            site_name=site_name, stylesheet=self.stylesheet, cart_script=CART_SCRIPT.url
        )
        self.style_source = csp_hash(self.stylesheet)
        self.rendered = RenderedPages(budget_bytes=RENDERED_BUDGET_BYTES)

    def csp(
        self,
        *,
        img_src: str = "'self'",
        script_src: str = "'none'",
        connect_src: str = "'none'",
        form_action: str = "'self'",
    ) -> str:
        """No script, font or frame from anywhere unless named; the inline stylesheet by its
        hash; forms post to this origin only (and go on where `form_action` adds)."""
        return "; ".join(
            (
                "default-src 'none'",
                f"style-src {self.style_source}",
                f"img-src {img_src}",
                f"script-src {script_src}",
                f"connect-src {connect_src}",
                f"form-action {form_action}",
                "base-uri 'none'",
                "frame-ancestors 'none'",
            )
        )

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def response(
        self,
        name: str,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        csp: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        body = self.render(name, request_id=current_request_id(), **context)
        all_headers = {"Content-Security-Policy": csp or self.csp(), **(headers or {})}
        return HTMLResponse(body, status_code=status_code, headers=all_headers)

    def handles(self, path: str) -> bool:
        # `/s/` arrives as `/s` once the trailing slash is gone: still a shopper's page.
        return path == "/s" or path.startswith(HTML_PREFIXES)

    def error(
        self, status_code: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> HTMLResponse:
        """A small page saying what went wrong, with the request id to quote; never indexed."""
        return self.response(
            "error.html",
            status_code=status_code,
            headers={**(headers or {}), "X-Robots-Tag": "noindex"},
            status_code_text=status_code,
            detail=detail,
        )
