"""Coarse facts about the client of a request, for security notices (and,
later, the session list): the network it came from (an IPv4 /24 or an IPv6
/48, never the address) and its user agent, shortened. Nothing here
identifies a person on its own, and the notice's reader needs no more to
recognise their own device."""

import ipaddress
from dataclasses import dataclass

from django.http import HttpRequest

from core.ratelimit import client_ip

USER_AGENT_MAX_LENGTH = 200


@dataclass(frozen=True)
class ClientInfo:
    ip_prefix: str
    user_agent: str

    def as_dict(self) -> dict[str, str]:
        return {"ip_prefix": self.ip_prefix, "user_agent": self.user_agent}


def ip_prefix(address: str) -> str:
    """`203.0.113.0/24` for 203.0.113.7; `2001:db8:1::/48` for an IPv6
    address; "" for anything that is no address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def client_info(request: HttpRequest) -> ClientInfo:
    # Printable only: it is stored (a login session) and mailed.
    agent = "".join(c for c in request.headers.get("User-Agent", "") if c.isprintable())
    agent = " ".join(agent.split())
    return ClientInfo(
        ip_prefix=ip_prefix(client_ip(request)),
        user_agent=agent[:USER_AGENT_MAX_LENGTH],
    )
