"""The service's own HTML pages share one base template and stylesheet; their errors are pages."""

import base64
import hashlib
import re

import httpx


def style_hash(html: str) -> str:
    inline = re.search(r"<style>(.*?)</style>", html, re.S)
    assert inline is not None
    return base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()


async def test_errors_on_html_paths_are_small_pages(client: httpx.AsyncClient) -> None:
    for path in ("/account/no-such-page", "/s/no-such-store/p/x/y/z"):
        response = await client.get(path, headers={"X-Request-ID": "page-test-1"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "page-test-1" in response.text and "Not Found" in response.text
        assert '<meta name="robots" content="noindex' in response.text
        assert response.headers["X-Robots-Tag"] == "noindex"
        policy = response.headers["Content-Security-Policy"]
        assert f"style-src 'sha256-{style_hash(response.text)}'" in policy
        assert "default-src 'none'" in policy and "unsafe" not in policy
    api = await client.get("/api/no-such-route")
    assert api.status_code == 404 and api.json()["detail"] == "Not Found"
