"""HTTP helpers shared by every channel: who is asking, as far as the deployment's proxies can tell.

Behind a reverse proxy or load balancer REMOTE_ADDR is the proxy's address. The proxy appends the
address it saw to X-Forwarded-For; only hops in MADOGUCHI_TRUSTED_PROXIES (networks, e.g.
"10.0.0.0/8,192.168.10.5") are believed, so a client cannot choose its own address by sending the
header. `TrustedProxyMiddleware` drops forwarded headers that did not come from a trusted proxy.
"""

import ipaddress
import re
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=256)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """Networks separated by commas or white space ("10.1.0.0/16, 192.0.2.7"); ValueError if one is not."""
    return tuple(ipaddress.ip_network(part, strict=False) for part in re.split(r"[\s,]+", spec) if part)


def trusted_proxies() -> tuple[Network, ...]:
    return parse_networks(settings.TRUSTED_PROXIES)


def parse_address(value: str | None) -> Address | None:
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def in_networks(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def from_trusted_proxy(http_request) -> bool:
    return in_networks(parse_address(http_request.META.get("REMOTE_ADDR")), trusted_proxies())


def client_ip(http_request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind trusted proxies the last X-Forwarded-For hop
    that is not itself a trusted proxy (hops are appended, so everything left of it is hearsay); if
    every hop is a trusted proxy, the first one (a client inside the data centre)."""
    remote = parse_address(http_request.META.get("REMOTE_ADDR"))
    proxies = trusted_proxies()
    if not in_networks(remote, proxies):
        return str(remote) if remote else None
    hops = http_request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    candidate = remote
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break  # a malformed hop: nothing left of it can be believed
        candidate = address
        if not in_networks(address, proxies):
            break
    return str(candidate)


def ip_bucket(ip: str | None) -> str:
    """The unit a rate limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's prefix, since
    a single host can take any address within it)."""
    address = parse_address(ip)
    if address is None:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# "This browser owns this request": the public ids of the requests this session made (web) or opened
# from the LINE conversation (LIFF). Only such a browser continues a request (sign, pay) or sees its
# done page and receipt; the public id alone in a URL is not enough.
OWNED_REQUESTS = "requests"
MAX_OWNED_REQUESTS = 10
# The requests of 「申請の一覧」 opened from a signed link sent to their notice address (replaced, not
# added to, each time the list is shown).
GRANTED_REQUESTS = "granted_requests"
MAX_GRANTED_REQUESTS = 200


def remember_request(http_request, public_id) -> None:
    owned = http_request.session.get(OWNED_REQUESTS, [])
    http_request.session[OWNED_REQUESTS] = [*owned[-(MAX_OWNED_REQUESTS - 1):], str(public_id)]


def grant_requests(http_request, public_ids) -> None:
    http_request.session[GRANTED_REQUESTS] = [str(p) for p in public_ids][:MAX_GRANTED_REQUESTS]


def owned_request_ids(http_request) -> list[str]:
    return [*http_request.session.get(OWNED_REQUESTS, []), *http_request.session.get(GRANTED_REQUESTS, [])]


def owns_request(http_request, public_id) -> bool:
    return str(public_id) in owned_request_ids(http_request)
