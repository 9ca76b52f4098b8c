"""Issue 9 parts 1 and 2: one bad key in the identity provider's JWKS spoils nothing, the JWKS
is refetched at most once per interval whatever happened, an unreachable provider keeps the
cached keys (503 when there are none), and lenient token parsing is gone (``crit``, non-numeric
``exp``/``nbf``/``iat``, unknown roles are 401)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.core.config import Settings
from app.main import create_app
from tests.api import forge
from tests.conftest import TEST_SECRET, Tenant

GOOD_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SHORT_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)
GOOD_EC = ec.generate_private_key(ec.SECP256R1())
GOOD_KID, EC_KID, BAD_KID = "good-rsa", "good-ec", "bad"
HMAC_SECRET = b"an-oct-key-published-in-the-jwks-by-mistake-0123456789"


@dataclass
class IdP:
    """A scripted identity provider: what the JWKS endpoint answers, and how often it was hit."""

    keys: list[Any] = field(default_factory=list)
    status: int = 200
    raw: bytes | None = None
    down: bool = False
    fetches: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The JWKS endpoint."""
        self.fetches += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw)
        return httpx.Response(self.status, json={"keys": self.keys})


@dataclass
class Harness:
    """The app in JWKS mode with a fake monotonic clock."""

    client: httpx.AsyncClient
    idp: IdP
    now: list[float]

    def tick(self, seconds: float) -> None:
        """Advance the JWKS cache's clock."""
        self.now[0] += seconds

    async def get(self, token: str) -> httpx.Response:
        """GET /v1/cases with the token."""
        return await self.client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """Production-style app whose JWKS comes from a scripted provider."""
    idp = IdP(keys=[forge.rsa_jwk(GOOD_RSA, GOOD_KID)])
    settings = Settings(env="production", database_url=database_url,
                        jwks_url="https://idp.test/jwks", jwt_secret=None, log_level="WARNING",
                        jwks_min_refresh_seconds=30, jwks_cache_seconds=600)
    app = create_app(settings, jwks_transport=httpx.MockTransport(idp.handler))
    now = [1000.0]
    app.state.verifier.jwks.clock = lambda: now[0]
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
            yield Harness(client=c, idp=idp, now=now)


def _b64(n: int) -> str:
    return forge.b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def _malformed_keys() -> dict[str, Any]:
    good = forge.rsa_jwk(OTHER_RSA, BAD_KID)
    ec_good = forge.ec_jwk(GOOD_EC, BAD_KID)
    private = OTHER_RSA.private_numbers()
    return {
        "rsa_missing_e": {k: v for k, v in good.items() if k != "e"},
        "rsa_missing_n": {k: v for k, v in good.items() if k != "n"},
        "rsa_n_bad_base64": {**good, "n": "!!not*base64url!!"},
        "rsa_n_padded_base64": {**good, "n": good["n"] + "=="},
        "rsa_e_not_a_string": {**good, "e": 65537},
        "rsa_e_zero": {**good, "e": "AA"},
        "rsa_1024_bits": forge.rsa_jwk(SHORT_RSA, BAD_KID),
        "wrong_kty": {**good, "kty": "RSA-PSS"},
        "kty_missing": {k: v for k, v in good.items() if k != "kty"},
        "use_enc": {**good, "use": "enc"},
        "alg_mismatch": {**good, "alg": "HS256"},
        "key_ops_sign_only": {**good, "key_ops": ["encrypt"]},
        "private_rsa_key": {**good, "d": _b64(private.d)},
        "ec_missing_crv": {k: v for k, v in ec_good.items() if k != "crv"},
        "ec_wrong_curve": {**ec_good, "crv": "P-384"},
        "ec_point_off_curve": {**ec_good, "y": _b64(12345)},
        "ec_x_bad_base64": {**ec_good, "x": "%%%"},
        "oct_key": {"kty": "oct", "kid": BAD_KID, "k": forge.b64url(HMAC_SECRET)},
        "no_kid": {k: v for k, v in good.items() if k != "kid"},
        "kid_not_string": {**good, "kid": 7},
        "not_an_object": "just a string",
        "null_entry": None,
    }


MALFORMED = _malformed_keys()


@pytest.mark.parametrize("shape", sorted(MALFORMED))
async def test_one_malformed_key_does_not_stop_sign_in(
    harness: Harness, somerset: Tenant, shape: str
) -> None:
    """RFC 7517 §5: an unusable JWK is skipped; the good RSA and EC keys still sign people in,
    and a token naming the bad key's kid is 401 (never 500); one fetch serves them all."""
    harness.idp.keys = [MALFORMED[shape], forge.rsa_jwk(GOOD_RSA, GOOD_KID),
                        forge.ec_jwk(GOOD_EC, EC_KID)]
    payload = forge.claims(service=somerset.slug)
    r = await harness.get(forge.rs256(payload, GOOD_RSA, GOOD_KID))
    assert r.status_code == 200, r.text
    r = await harness.get(forge.es256(payload, GOOD_EC, EC_KID))
    assert r.status_code == 200, r.text
    r = await harness.get(forge.rs256(payload, OTHER_RSA, BAD_KID))
    assert r.status_code == 401, r.text
    assert harness.idp.fetches == 1


async def test_oct_key_in_jwks_is_never_an_hmac_secret(harness: Harness, somerset: Tenant) -> None:
    """Algorithm confusion: an ``oct`` key published in the JWKS must not verify HS256 tokens
    signed with its bytes, with its kid or without one."""
    harness.idp.keys = [{"kty": "oct", "kid": "shared", "k": forge.b64url(HMAC_SECRET),
                         "alg": "HS256"}, forge.rsa_jwk(GOOD_RSA, GOOD_KID)]
    payload = forge.claims(service=somerset.slug, roles=["duty_manager"])
    for header in ({"kid": "shared"}, {}, {"kid": GOOD_KID}):
        r = await harness.get(forge.hs256(payload, HMAC_SECRET, header))
        assert r.status_code == 401, r.text


async def test_duplicate_kid_is_dropped_as_ambiguous(harness: Harness, somerset: Tenant) -> None:
    """Two different keys under one kid: neither is trusted; the other keys keep working."""
    harness.idp.keys = [forge.rsa_jwk(GOOD_RSA, "twin"), forge.rsa_jwk(OTHER_RSA, "twin"),
                        forge.ec_jwk(GOOD_EC, EC_KID)]
    payload = forge.claims(service=somerset.slug)
    assert (await harness.get(forge.rs256(payload, GOOD_RSA, "twin"))).status_code == 401
    assert (await harness.get(forge.rs256(payload, OTHER_RSA, "twin"))).status_code == 401
    assert (await harness.get(forge.es256(payload, GOOD_EC, EC_KID))).status_code == 200


async def test_unknown_kid_refetches_at_most_once_per_interval(
    harness: Harness, somerset: Tenant
) -> None:
    """Forged kids cannot make the service hammer the provider: within the 30 s interval no
    refetch at all, after it exactly one, and a failed refetch counts as an attempt too."""
    payload = forge.claims(service=somerset.slug)
    good = forge.rs256(payload, GOOD_RSA, GOOD_KID)
    assert (await harness.get(good)).status_code == 200
    assert harness.idp.fetches == 1
    for i in range(5):
        r = await harness.get(forge.rs256(payload, OTHER_RSA, f"forged-{i}"))
        assert r.status_code == 401
    assert harness.idp.fetches == 1
    harness.tick(30)
    assert (await harness.get(forge.rs256(payload, OTHER_RSA, "forged-x"))).status_code == 401
    assert harness.idp.fetches == 2
    harness.idp.status, harness.idp.raw = 500, b"oops"
    harness.tick(30)
    for i in range(3):
        assert (await harness.get(forge.rs256(payload, OTHER_RSA, f"f-{i}"))).status_code == 401
    assert harness.idp.fetches == 3
    assert (await harness.get(good)).status_code == 200


async def test_rotated_key_is_picked_up_on_unknown_kid(harness: Harness, somerset: Tenant) -> None:
    """Key rotation: a token with the new kid triggers one refetch and is accepted."""
    payload = forge.claims(service=somerset.slug)
    assert (await harness.get(forge.rs256(payload, GOOD_RSA, GOOD_KID))).status_code == 200
    harness.idp.keys.append(forge.rsa_jwk(OTHER_RSA, "rotated"))
    harness.tick(31)
    assert (await harness.get(forge.rs256(payload, OTHER_RSA, "rotated"))).status_code == 200
    assert harness.idp.fetches == 2


async def test_unreachable_provider_keeps_cached_keys(harness: Harness, somerset: Tenant) -> None:
    """Provider down after keys were cached: sign-in keeps working past the cache TTL."""
    payload = forge.claims(service=somerset.slug)
    good = forge.rs256(payload, GOOD_RSA, GOOD_KID)
    assert (await harness.get(good)).status_code == 200
    harness.idp.down = True
    harness.tick(3600)  # past the 600 s TTL: a refresh is attempted and fails
    assert (await harness.get(good)).status_code == 200
    assert harness.idp.fetches == 2
    assert (await harness.get(good)).status_code == 200
    assert harness.idp.fetches == 2


@pytest.mark.parametrize("failure", ["down", "http_500", "not_json", "keys_not_a_list",
                                     "only_bad_keys"])
async def test_no_usable_keys_is_503_problem(
    harness: Harness, somerset: Tenant, failure: str
) -> None:
    """Provider unreachable or useless before any key was cached: 503 problem with Retry-After
    (the caller's token is not to blame), rate-limited, and recovery once the provider is back."""
    idp = harness.idp
    if failure == "down":
        idp.down = True
    elif failure == "http_500":
        idp.status, idp.raw = 500, b"{}"
    elif failure == "not_json":
        idp.raw = b"<html>"
    elif failure == "keys_not_a_list":
        idp.raw = b'{"keys": {"kty": "RSA"}}'
    else:
        idp.keys = [MALFORMED["rsa_missing_e"], MALFORMED["oct_key"]]
    good = forge.rs256(forge.claims(service=somerset.slug), GOOD_RSA, GOOD_KID)
    for _ in range(3):
        r = await harness.get(good)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) > 0
    assert idp.fetches == 1
    idp.down, idp.status, idp.raw = False, 200, None
    idp.keys = [forge.rsa_jwk(GOOD_RSA, GOOD_KID)]
    harness.tick(30)
    assert (await harness.get(good)).status_code == 200
    assert idp.fetches == 2


# --- Part 2: lenient parsing -----------------------------------------------------------------


async def test_crit_header_is_refused(harness: Harness, somerset: Tenant) -> None:
    """RFC 7515 §4.1.11: a correctly signed token listing any ``crit`` extension is 401."""
    payload = forge.claims(service=somerset.slug)
    for header in ({"crit": ["x-unknown"], "x-unknown": True}, {"crit": ["exp"]},
                   {"crit": []}, {"crit": "b64", "b64": False}):
        token = forge.rs256_with_header(payload, GOOD_RSA, GOOD_KID, header)
        assert (await harness.get(token)).status_code == 401


async def test_crit_header_is_refused_on_hs256(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """The same on the dev/test HS256 path."""
    payload = forge.claims(service=somerset.slug)
    token = forge.hs256(payload, TEST_SECRET.encode(), {"crit": ["x-unknown"], "x-unknown": 1})
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def _time_claim_forgeries(base: dict[str, Any]) -> list[dict[str, Any]]:
    exp, iat = base["exp"], base["iat"]
    return [
        {**base, "exp": str(exp)},
        {**base, "exp": f"{exp}.0"},
        {**base, "exp": True},
        {**base, "exp": [exp]},
        {**base, "exp": None},
        {**base, "nbf": str(iat)},
        {**base, "nbf": False},
        {**base, "iat": str(iat)},
        {**base, "iat": True},
        {**base, "iat": {"t": iat}},
    ]


async def test_time_claims_must_be_json_numbers(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """``exp``, ``nbf``, ``iat`` sent as strings, booleans, lists or objects: 401 (RFC 7519
    NumericDate), while the same token with numbers is 200 (control)."""
    base = forge.claims(service=somerset.slug)
    ok = forge.hs256({**base, "nbf": base["iat"]}, TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {ok}"})
    assert r.status_code == 200
    for payload in _time_claim_forgeries(base):
        token = forge.hs256(payload, TEST_SECRET.encode())
        r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, payload


@pytest.mark.parametrize("roles", [
    ["case_holder", "superuser"], ["CASE_HOLDER"], "case_holder", [["case_holder"]],
    [], ["case_holder", 1], {"case_holder": True},
])
async def test_roles_must_be_a_list_of_known_role_names(
    client: httpx.AsyncClient, somerset: Tenant, roles: Any
) -> None:
    """A role name the service does not know (or a non-list) makes the whole token 401."""
    token = forge.hs256(forge.claims(service=somerset.slug, roles=roles), TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_b64_helper_roundtrip() -> None:
    """Sanity of the forge helper used above."""
    assert base64.urlsafe_b64decode(_b64(65537) + "=") == b"\x01\x00\x01"
