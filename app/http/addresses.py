"""Client addresses in one notation: what every rate limit and the access log go by.

One client can be written 198.51.100.7, ::ffff:198.51.100.7 or ::ffff:c633:6407, and an IPv6
client is handed a whole /64 (a home or a phone's network) to pick addresses from at will. So an
address is canonicalised (IPv4-mapped to IPv4) before anything is keyed on it, and a limit counts
an IPv6 client by its /64: rotating addresses inside it buys neither a fresh budget nor a new
counter in the store.

    python -m app.http.addresses 203.0.113.7

prints the `client_hash` the access log shows for that address under this deployment's
SECRET_KEY, to check which hop behind the proxies is logged (README, "Client address").
"""

import hashlib
import hmac
import ipaddress
import sys
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The network an IPv6 client is given and may rotate within.
IPV6_CLIENT_PREFIX = 64
# Distinct addresses remembered; addresses rotated at random only push older ones out.
CACHED_ADDRESSES = 4096
_HOST_BITS = 128 - IPV6_CLIENT_PREFIX


@lru_cache(maxsize=CACHED_ADDRESSES)
def parse(host: str) -> IPAddress | None:
    """The address a host string names (`[v6]`, `[v6]:port` and `v4:port` included), IPv4-mapped
    IPv6 as IPv4; None when it is not an address."""
    text = host.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=CACHED_ADDRESSES)
def canonical(host: str) -> str:
    """The one way this address is written; anything that is not an address, unchanged."""
    address = parse(host)
    return host if address is None else str(address)


@lru_cache(maxsize=CACHED_ADDRESSES)
def limit_key(host: str) -> str:
    """Who a rate limit counts: an IPv4 address, or the /64 an IPv6 address belongs to."""
    address = parse(host)
    if address is None:
        return host
    if address.version == 6:
        network = ipaddress.IPv6Address(int(address) >> _HOST_BITS << _HOST_BITS)
        return f"{network}/{IPV6_CLIENT_PREFIX}"
    return str(address)


def fingerprint_key(secret: str) -> bytes:
    """The key of the access log's client hashes, derived from SECRET_KEY (never the key itself)."""
    return hmac.new(secret.encode(), b"access-log client address", hashlib.sha256).digest()


class ClientFingerprints:
    """A short keyed hash of a client's address, and whether it is a public one, for the access
    log: enough to tell which hop behind the proxies is logged (compare with the hash of an
    address you know) without logging anyone's address."""

    def __init__(self, secret: str) -> None:
        self._key = fingerprint_key(secret)
        self.of = lru_cache(maxsize=CACHED_ADDRESSES)(self._fingerprint)

    def _fingerprint(self, host: str) -> tuple[str, bool]:
        """(client_hash, client_private): private is anything not publicly routable (private
        networks, loopback, carrier-grade NAT, link-local) or not an address at all."""
        address = parse(host)
        text = host if address is None else str(address)
        digest = hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return digest.hexdigest()[:16], address is None or not address.is_global


def main(arguments: list[str]) -> int:
    from app.settings import load_settings

    fingerprints = ClientFingerprints(load_settings().SECRET_KEY)
    for argument in arguments:
        client_hash, private = fingerprints.of(argument)
        sys.stdout.write(
            f"{canonical(argument)} client_hash={client_hash} client_private={private}\n"
        )
    return 0 if arguments else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
