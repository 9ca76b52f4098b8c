"""Issue 9 part 3: webhook URLs that resolve inside the network. The host is resolved at
subscription and again at every delivery; unless every address is globally routable the URL
is refused (IPv4-mapped, NAT64, 6to4, Teredo, link-local, CGNAT, multicast, unspecified,
reserved and site-local forms included); the delivery connects to the vetted address (no second
lookup) keeping Host and SNI; outside dev/test only port 443 unless configured."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.core.config import Settings
from app.core.errors import Unprocessable
from app.core.security import mint_dev_token
from app.domain import webhooks
from app.domain.services import Service
from tests.conftest import PUBLIC_TEST_ADDRESS, Tenant

DNS: dict[str, list[str]] = {
    "iyss.example.org": [PUBLIC_TEST_ADDRESS],
    "localtest.me": ["127.0.0.1"],
    "169.254.169.254.nip.io": ["169.254.169.254"],
    "mixed.example.net": [PUBLIC_TEST_ADDRESS, "10.0.0.7"],
    "mapped.example.net": ["::ffff:169.254.169.254"],
    "nat64.example.net": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example.net": ["2002:a9fe:a9fe::1"],
    "teredo.example.net": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "linklocal6.example.net": ["fe80::1"],
    "sitelocal.example.net": ["fec0::1"],
    "ula.example.net": ["fd00::1"],
    "cgnat.example.net": ["100.64.0.1"],
    "multicast.example.net": ["224.0.0.1"],
    "unspecified.example.net": ["0.0.0.0"],
    "reserved.example.net": ["240.0.0.1"],
    "loopback6.example.net": ["::1"],
    "compat.example.net": ["::7f00:1"],
    "public6.example.net": ["2606:4700:4700::1111"],
}


@pytest.fixture(autouse=True)
def attack_dns() -> Iterator[dict[str, list[str]]]:
    """A resolver answering from :data:`DNS` (which a test may change: DNS rebinding)."""
    table = {k: list(v) for k, v in DNS.items()}

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("NXDOMAIN")
        return table[host]

    webhooks.set_resolver(resolve)
    yield table
    webhooks.set_resolver(None)


INTERNAL_NAMES = sorted(set(DNS) - {"iyss.example.org", "public6.example.net"})


@pytest.mark.parametrize("host", INTERNAL_NAMES)
async def test_names_resolving_inside_are_refused_at_subscription(
    client: httpx.AsyncClient, somerset: Tenant, host: str
) -> None:
    """``https://localtest.me/h``, ``https://169.254.169.254.nip.io/latest/meta-data/`` and
    every other name with an address that is not globally routable: 422 on body.url."""
    r = await client.post(f"/v1/services/{somerset.slug}/webhooks",
                          json={"url": f"https://{host}/h", "event_types": ["*"]},
                          headers=_admin(somerset.settings))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == "body.url"


@pytest.mark.parametrize("host", INTERNAL_NAMES)
async def test_names_resolving_inside_are_refused_in_production(host: str) -> None:
    """The same names in production, through the vetting function the delivery uses too."""
    url = webhooks.check_url(f"https://{host}/latest/meta-data/", "production")
    with pytest.raises(webhooks.DestinationRefused):
        await webhooks.vet_destination(url, "production")


@pytest.mark.parametrize("literal", [
    "[::ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]",
    "[2001::1]", "[fe80::1]", "[fec0::1]", "[::]", "[::1]", "[ff02::1]", "100.64.1.1",
    "0.0.0.0", "224.0.0.251", "255.255.255.255", "192.0.0.8", "198.18.0.1",
    "192.88.99.1", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b:1::7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
])
def test_address_literals_inside_are_refused(literal: str) -> None:
    """IPv6 forms carrying an internal IPv4 address, and every non-global range: 422."""
    with pytest.raises(Unprocessable):
        webhooks.check_url(f"https://{literal}/h", "production")


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700:4700::1111", True), ("::ffff:93.184.216.34", True),
    ("10.0.0.1", False), ("172.16.0.1", False), ("192.168.1.1", False), ("127.0.0.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("100.127.255.254", False),
    ("::ffff:10.0.0.1", False), ("64:ff9b::808:808", False), ("2002:808:808::1", False),
    ("2001:0:4136:e378::1", False), ("fc00::1", False), ("fe80::1", False),
    ("fec0::1", False), ("ff0e::1", False), ("::", False), ("::1", False),
    ("224.0.0.1", False), ("240.0.0.1", False), ("0.1.2.3", False),
])
def test_is_public_address(address: str, public: bool) -> None:
    """The routability rule itself."""
    assert webhooks.is_public_address(ipaddress.ip_address(address)) is public


def test_only_port_443_outside_dev_unless_configured() -> None:
    """Production: https on 443 (or no port); another port only when configured."""
    assert webhooks.check_url("https://iyss.example.org/h", "production")
    assert webhooks.check_url("https://iyss.example.org:443/h", "production")
    for port in (8443, 22, 6379, 80):
        with pytest.raises(Unprocessable):
            webhooks.check_url(f"https://iyss.example.org:{port}/h", "production")
    assert webhooks.check_url("https://iyss.example.org:8443/h", "production", (443, 8443))
    assert webhooks.check_url("https://iyss.example.org:8443/h", "test")


def test_plain_http_to_loopback_only_in_dev_and_test() -> None:
    """``http://127.0.0.1`` is the dev/test receiver; never in staging or production."""
    assert webhooks.check_url("http://127.0.0.1:8080/h", "dev")
    for env in ("staging", "production"):
        with pytest.raises(Unprocessable):
            webhooks.check_url("http://127.0.0.1:8080/h", env)


async def test_delivery_connects_to_the_vetted_address_keeping_host_and_sni() -> None:
    """The connection goes to the address the vetting saw; Host and TLS keep the name."""
    dest = await webhooks.vet_destination("https://iyss.example.org/hooks?x=1", "production")
    assert str(dest.url) == f"https://{PUBLIC_TEST_ADDRESS}/hooks?x=1"
    assert dest.host_header == "iyss.example.org"
    assert dest.server_name == "iyss.example.org"
    six = await webhooks.vet_destination("https://public6.example.net:443/h", "production")
    assert str(six.url) == "https://[2606:4700:4700::1111]/h"
    assert six.host_header == "public6.example.net"


def _admin(settings: Settings) -> dict[str, str]:
    token = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None)
    return {"Authorization": f"Bearer {token}"}



async def test_dns_rebinding_after_subscription_is_not_contacted(
    client: httpx.AsyncClient, somerset: Tenant, factory: Any, settings: Settings,
    attack_dns: dict[str, list[str]],
) -> None:
    """The name resolved publicly at subscription, then to the metadata address: the delivery
    resolves again, refuses, contacts nobody and records why (retried later)."""
    r = await client.post(f"/v1/services/{somerset.slug}/webhooks",
                          json={"url": "https://iyss.example.org/h", "event_types": ["*"]},
                          headers=_admin(settings))
    assert r.status_code == 201, r.text
    sub = r.json()["data"]
    await somerset.open_case()
    attack_dns["iyss.example.org"] = ["169.254.169.254"]
    contacted: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        contacted.append(request)
        return httpx.Response(200)

    async with factory() as session:
        sid = (await session.exec(select(Service.id).where(Service.slug == somerset.slug))).one()
    result = await webhooks.run_pass(factory, httpx.MockTransport(receiver), service_id=sid,
                                     settings=settings)
    assert contacted == []
    assert result.delivered == 0
    r = await client.get(f"/v1/services/{somerset.slug}/webhooks/{sub['id']}/deliveries",
                         headers=_admin(settings))
    [delivery] = r.json()["data"]
    assert delivery["status"] == "pending"
    assert delivery["last_error"] == (
        "destination refused: the host name resolves to a non-public address")
    attack_dns["iyss.example.org"] = [PUBLIC_TEST_ADDRESS]
    assert uuid.UUID(delivery["id"])
