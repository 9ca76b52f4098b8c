"""Attack pass 26a, A26a-15: a wrong ``iss``, a wrong ``aud``, an ``nbf`` an hour ahead and a
non-string ``sub`` were all answered the one detail "The token's issuer, audience or claims are
wrong.", while docs/integrating.md section 1 tells a realm's administrator that "a 401
problem's detail says which part did not [line up]" (missing claims, expiry, a future ``iat``
were already told apart). Each now names its part, and none echoes the value sent.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api import forge
from tests.conftest import TEST_SECRET, Tenant

CASES = [
    ({"iss": "evil-idp"}, "issuer ('iss')"),
    ({"iss": ["yjrisk"]}, "issuer ('iss')"),
    ({"aud": "someone-else"}, "audience ('aud')"),
    ({"aud": ["someone-else", "other"]}, "audience ('aud')"),
    ({"sub": 123}, "'sub' claim is not a string"),
    ({"nbf": int(time.time()) + 3600}, "not valid yet"),
]


@pytest.mark.parametrize(("override", "said"), CASES, ids=[c[1] + str(i)
                                                           for i, c in enumerate(CASES)])
async def test_a_401_detail_names_the_part_that_did_not_line_up(
    client: httpx.AsyncClient, somerset: Tenant, override: dict[str, Any], said: str,
) -> None:
    token = forge.hs256(forge.claims(service=somerset.slug, **override), TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    detail = r.json()["detail"]
    assert said in detail, detail
    assert "evil-idp" not in r.text
    assert "someone-else" not in r.text


async def test_an_audience_list_naming_this_service_is_accepted(
    client: httpx.AsyncClient, somerset: Tenant,
) -> None:
    """RFC 7519 4.1.3: ``aud`` may be a list; one naming this service is enough."""
    token = forge.hs256(forge.claims(service=somerset.slug, aud=["account", "yjrisk-api"]),
                        TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
