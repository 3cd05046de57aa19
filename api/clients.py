"""Who the client is: its address, seen through the reverse proxies listed in TRUSTED_PROXIES.

`X-Forwarded-For` is whatever the client wrote, plus what each proxy on the way appended to it.
Only the part appended by proxies we trust means anything: so it is read only when the socket's
peer is a trusted proxy, from the right, skipping trusted proxies, and the first address that is
not one of them is the client. Anything to its left was written by the client itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from api.settings import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str | None) -> Address | None:
    """An address as a proxy or socket writes it (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`),
    or None if it is not one."""
    text = (text or "").strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address | None) -> bool:
    return address is not None and any(
        address.version == network.version and address in network
        for network in get_settings().trusted_networks
    )


def client_address(
    peer: str | None, forwarded_for: str | Iterable[str] | None = None
) -> str | None:
    """The client's address for a request whose socket peer is `peer`, given the value(s) of its
    X-Forwarded-For header(s), in order. Without trusted proxies this is simply the peer."""
    peer_address = parse_address(peer)
    if not is_trusted(peer_address):
        return str(peer_address) if peer_address is not None else (peer or None)
    if isinstance(forwarded_for, str):
        forwarded_for = [forwarded_for]
    hops = [hop for value in forwarded_for or () for hop in value.split(",")]
    client = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            # Not an address: written by the client, not by a proxy of ours. The last proxy
            # that relayed it is all we know (a made-up value must not become a new identity).
            break
        client = address
        if not is_trusted(address):
            break
    return str(client)


def throttle_key(address: str | None) -> str | None:
    """What the sign-in throttle counts per client: the address, or for IPv6 its /64 (one
    subscriber or host usually holds a whole /64, and could rotate through it)."""
    parsed = parse_address(address)
    if parsed is None:
        return address or None
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def from_router(router) -> str | None:
    """The client address of a console socket (Reflex's router data): the socket's peer, and
    the X-Forwarded-For of its handshake when that peer is a trusted proxy."""
    peer = router.session.client_ip or None
    forwarded = router.headers.raw_headers.get("x-forwarded-for")
    return client_address(peer, forwarded)
