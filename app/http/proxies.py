"""The real client address behind trusted proxies, and nobody else's say-so.

`X-Forwarded-For` is believed only when the connecting peer is a proxy named in TRUSTED_PROXIES
(none by default): any client can send the header, so trusting it from anyone would let a
brute-forcer pick a fresh address per request. Run uvicorn with `--no-proxy-headers` so this is
the only place that reads it.

Whatever it settles on is written in one notation (`app/http/addresses.py`): the peer uvicorn
reports on a dual-stack socket (`::ffff:198.51.100.7`) and a forwarded entry alike.
"""

import ipaddress
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.addresses import canonical, parse

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, entries: Sequence[str], extra_hops: int = 0) -> None:
        self.trust_all = "*" in entries
        self.networks: list[IPNetwork] = [
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"
        ]
        self.extra_hops = extra_hops

    def trusts(self, host: str) -> bool:
        if self.trust_all:
            return True
        address = parse(host)
        return address is not None and any(address in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """Walk X-Forwarded-For right to left past trusted hops; the first other entry wins.

        An entry that is not an address ends the walk at the hop that reported it: nothing to
        its left is any more trustworthy, and a made-up string must not count as a new client.
        """
        if not forwarded_for or not self.trusts(peer):
            return canonical(peer)
        reporter = peer
        skip = self.extra_hops
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if parse(hop) is None:
                break
            reporter = hop
            if self.trusts(hop):
                continue
            if skip:
                skip -= 1
                continue
            return canonical(hop)
        return canonical(reporter)


class ClientAddressMiddleware:
    """Rewrites `scope["client"]` (and the scheme) from forwarded headers of trusted proxies."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client:
            peer = client[0]
            if self.proxies.trusts(peer):
                headers = Headers(scope=scope)
                host = self.proxies.client_of(peer, headers.get("x-forwarded-for"))
                scope["client"] = (host, 0 if host != canonical(peer) else client[1])
                proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = (
                        proto if scope["type"] == "http" else proto.replace("http", "ws")
                    )
            elif (host := canonical(peer)) != peer:
                scope["client"] = (host, client[1])
        await self.app(scope, receive, send)
