"""Authentication attacks: every forged, expired or confused token is refused with 401."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.config import Settings
from app.main import create_app
from tests.api import forge
from tests.conftest import TEST_SECRET, Tenant


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def assert_401(client: httpx.AsyncClient, token: str) -> None:
    """The token is refused as unauthenticated with a problem document."""
    r = await client.get("/v1/cases", headers=bearer(token))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/unauthenticated")
    assert token not in r.text


async def test_valid_token_reads_caseload(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Control: a genuine token works, so the refusals below are about the token."""
    token = forge.hs256(forge.claims(service=somerset.slug), TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [], "next_cursor": None}


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    """No Authorization header."""
    r = await client.get("/v1/cases")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "x" * 9000],
)
async def test_malformed_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    """Garbage in the bearer slot."""
    await assert_401(client, token)


async def test_alg_none_is_refused(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """An unsigned token is never accepted."""
    await assert_401(client, forge.unsigned(forge.claims(service=somerset.slug)))


async def test_bad_signature_is_refused(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A genuine token whose payload was edited (role escalation) fails verification."""
    good = forge.hs256(forge.claims(service=somerset.slug), TEST_SECRET.encode())
    head, _, sig = good.split(".")
    evil = forge.b64url(
        __import__("json").dumps(forge.claims(service=somerset.slug, roles=["chair"])).encode()
    )
    await assert_401(client, f"{head}.{evil}.{sig}")


async def test_wrong_secret_is_refused(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Signed with another secret."""
    await assert_401(client, forge.hs256(forge.claims(service=somerset.slug), b"not-the-secret"))


async def test_expired_is_refused(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Expired beyond the leeway."""
    past = int(time.time()) - 3600
    token = forge.hs256(
        forge.claims(service=somerset.slug, iat=past - 600, exp=past), TEST_SECRET.encode()
    )
    await assert_401(client, token)


@pytest.mark.parametrize("ahead", [8 * 24 * 3600, 365 * 24 * 3600, 100 * 365 * 24 * 3600])
async def test_token_expiring_too_far_ahead_is_refused(
    client: httpx.AsyncClient, somerset: Tenant, ahead: int
) -> None:
    """A well-signed token whose ``exp`` lies more than a week ahead (YJ_JWT_MAX_LIFETIME_SECONDS)
    is refused: a leaked token must not be a credential for a year or a century."""
    now = int(time.time())
    token = forge.hs256(forge.claims(service=somerset.slug, iat=now, exp=now + ahead),
                        TEST_SECRET.encode())
    await assert_401(client, token)


async def test_token_expiring_within_a_week_is_accepted(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The boundary's other side: six days ahead still signs in (the dev tools mint a week)."""
    now = int(time.time())
    token = forge.hs256(forge.claims(service=somerset.slug, iat=now, exp=now + 6 * 24 * 3600),
                        TEST_SECRET.encode())
    r = await client.get("/v1/cases", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "override",
    [{"aud": "someone-else"}, {"iss": "evil-idp"}, {"exp": None}, {"sub": None},
     {"aud": None}, {"iss": None}, {"roles": None}, {"roles": []}, {"roles": ["superuser"]},
     {"roles": "case_holder"}],
)
async def test_wrong_or_missing_claims_are_refused(
    client: httpx.AsyncClient, somerset: Tenant, override: dict[str, Any]
) -> None:
    """Wrong audience or issuer, missing exp/sub/aud/iss/roles, unknown roles."""
    token = forge.hs256(forge.claims(service=somerset.slug, **override), TEST_SECRET.encode())
    if override.get("exp", 1) is None:
        payload = forge.claims(service=somerset.slug)
        payload.pop("exp")
        token = forge.hs256(payload, TEST_SECRET.encode())
    await assert_401(client, token)


async def test_role_without_permission_is_403(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A valid token whose role may not open cases."""
    r = await client.post(
        "/v1/cases", json={}, headers=somerset.auth("panel_admin")
    )
    assert r.status_code == 403
    r = await client.post(
        "/v1/services", json={"slug": "x-evil", "name": "x", "policy_pack": "somerset-yjt-2023"},
        headers=somerset.auth("chair"),
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


# --- Production mode: RS256 keys from a JWKS, and the python-jose key-confusion CVE -------------

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "idp-key-1"


@pytest.fixture
async def jwks_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app in production-style mode: JWKS keys, no usable HS256 secret."""
    fetches = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        fetches["n"] += 1
        return httpx.Response(200, json={"keys": [forge.rsa_jwk(RSA_KEY, KID)]})

    settings = Settings(
        env="production", database_url=database_url, jwks_url="https://idp.test/jwks",
        jwt_secret=None, log_level="WARNING",
    )
    app = create_app(settings, jwks_transport=httpx.MockTransport(handler))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
            c.fetches = fetches  # type: ignore[attr-defined]
            yield c


async def test_rs256_from_jwks_is_accepted(
    jwks_client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Control: a token signed by the identity provider's key works."""
    token = forge.rs256(forge.claims(service=somerset.slug), RSA_KEY, KID)
    r = await jwks_client.get("/v1/cases", headers=bearer(token))
    assert r.status_code == 200, r.text


async def test_CVE_2026_85394_der_public_key_as_hmac_secret_is_refused(
    jwks_client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """HS256 signed with the JWKS public key's DER (or PEM) bytes: refused, kid or not."""
    payload = forge.claims(service=somerset.slug, roles=["duty_manager"])
    for secret in (forge.public_der(RSA_KEY), forge.public_pem(RSA_KEY)):
        for header in ({}, {"kid": KID}):
            await assert_401(jwks_client, forge.hs256(payload, secret, header))


async def test_alg_none_and_unknown_kid_refused_in_jwks_mode(
    jwks_client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """``alg: none``, a key from elsewhere, and an unknown kid."""
    payload = forge.claims(service=somerset.slug)
    await assert_401(jwks_client, forge.unsigned(payload))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    await assert_401(jwks_client, forge.rs256(payload, other, KID))
    await assert_401(jwks_client, forge.rs256(payload, other, "unknown-kid"))


def test_production_refuses_to_start_without_keys() -> None:
    """Outside dev/test, no JWKS and a missing or short secret stop start-up."""
    from app.core.config import ConfigError

    with pytest.raises(ConfigError):
        Settings(env="production", jwt_secret=None, jwks_url=None)
    with pytest.raises(ConfigError):
        Settings(env="production", jwt_secret="short", jwks_url=None)
    assert Settings(env="production", jwt_secret="s" * 32).hs256_enabled


def test_an_empty_secret_variable_is_unset_so_a_jwks_only_start_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``YJ_JWT_SECRET= YJ_JWKS_URL=... yjrisk serve`` over a ``.env`` that holds the dev secret
    (attack pass 9, R5): the empty variable switches HS256 off (it wins over ``.env``) instead
    of stopping start-up as "too short"; an empty JWKS URL with no secret still refuses."""
    from app.core.config import ConfigError

    monkeypatch.setenv("YJ_JWT_SECRET", "")
    monkeypatch.setenv("YJ_JWKS_URL", "https://idp.example/jwks.json")
    settings = Settings(env="production", _env_file=None)  # type: ignore[call-arg]
    assert settings.jwt_secret is None
    assert not settings.hs256_enabled
    assert settings.jwks_url == "https://idp.example/jwks.json"
    monkeypatch.setenv("YJ_JWKS_URL", " ")
    with pytest.raises(ConfigError):
        Settings(env="production", _env_file=None)  # type: ignore[call-arg]


async def test_non_canonical_spellings_of_a_genuine_token_are_refused(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """RFC 7515 §2/§7.1: each part is base64url without padding. A genuine token re-spelt with
    '=' padding or the standard alphabet is another string for the same token: refused."""
    token = forge.hs256(forge.claims(service=somerset.slug), TEST_SECRET.encode())
    head, payload, signature = token.split(".")
    assert (await client.get("/v1/cases", headers=bearer(token))).status_code == 200
    await assert_401(client, f"{head}.{payload}.{signature}=")
    standard = signature.replace("-", "+").replace("_", "/")
    if standard != signature:
        await assert_401(client, f"{head}.{payload}.{standard}")
    await assert_401(client, f"{head}.{payload}.")


async def test_token_issued_in_the_future_is_refused(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A token whose ``iat`` is a day ahead (beyond the 30 s leeway) was not issued yet."""
    claims = forge.claims(service=somerset.slug)
    claims["iat"] = int(time.time()) + 86400
    await assert_401(client, forge.hs256(claims, TEST_SECRET.encode()))


@pytest.mark.parametrize("field", ["sub", "service"])
async def test_control_characters_in_identity_claims_are_refused(
    client: httpx.AsyncClient, somerset: Tenant, field: str
) -> None:
    """A NUL or newline in the staff id or service would reach the database and the logs."""
    for control in ("\u0000", "\n", "\u007f"):
        claims = forge.claims(service=somerset.slug)
        claims[field] = (claims["sub"] if field == "sub" else somerset.slug) + control
        await assert_401(client, forge.hs256(claims, TEST_SECRET.encode()))


async def test_writes_without_a_token_are_401_before_the_body_is_judged(
    client: httpx.AsyncClient,
) -> None:
    """A stranger sending a malformed, non-JSON or oversized body to any /v1 write gets 401
    (with ``WWW-Authenticate: Bearer``), never the 400/413/415 that would describe the body."""
    spec = (await client.get("/openapi.json")).json()
    bodies = [
        ({"content-type": "application/json"}, b"{garb"),
        ({"content-type": "text/plain"}, b"hello"),
        ({"content-type": "application/json"}, b"x" * (2 * 1024 * 1024)),
    ]
    checked = 0
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        concrete = path.replace("{", "").replace("}", "")  # ids need not exist for a 401
        for method in {"post", "put", "patch"} & set(ops):
            for headers, body in bodies:
                r = await client.request(method.upper(), concrete, headers=headers, content=body)
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["www-authenticate"] == "Bearer"
                assert r.json()["type"].endswith("/unauthenticated")
                checked += 1
    assert checked >= 30


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
async def test_a_missing_required_claim_is_named(
    client: httpx.AsyncClient, somerset: Tenant, claim: str
) -> None:
    """A correctly signed token without exp, iss, aud or sub: 401 whose detail names the claim
    (it said the signature was not valid, misleading whoever debugs an identity provider)."""
    payload = forge.claims(service=somerset.slug)
    payload.pop(claim)
    r = await client.get("/v1/cases", headers={
        "authorization": f"Bearer {forge.hs256(payload, TEST_SECRET.encode())}"})
    assert r.status_code == 401, r.text
    assert r.json()["detail"] == f"The token has no '{claim}' claim."


# --- A token verified once is remembered, never past what the whole check would accept -------


class _Clock:
    """The wall clock as both the verifier and python-jose's claim checks read it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import datetime as dt
        import types

        import jose.jwt

        from app.core import security

        self.now = time.time()
        clock = self

        class _Datetime(dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
                return dt.datetime.fromtimestamp(clock.now, tz)

        monkeypatch.setattr(jose.jwt, "datetime", _Datetime)
        monkeypatch.setattr(security, "time", types.SimpleNamespace(
            time=lambda: clock.now, monotonic=time.monotonic))


async def test_a_remembered_token_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same token string, accepted a minute ago, is 401 once past ``exp`` and the leeway:
    the verifier's memory of it (issue 15) does not outlive the token."""
    from app.core.errors import NotAuthenticated
    from app.core.security import TokenVerifier

    clock = _Clock(monkeypatch)
    settings = Settings(env="test", database_url="sqlite+aiosqlite://", jwt_secret=TEST_SECRET,
                        jwt_leeway_seconds=30, log_level="WARNING")
    verifier = TokenVerifier(settings)
    now = int(clock.now)
    token = forge.hs256(forge.claims(service="svc", iat=now, exp=now + 60),
                        TEST_SECRET.encode())
    assert (await verifier.verify(token)).sub == (await verifier.verify(token)).sub
    clock.now = now + 60 + 29  # past exp, within the leeway: still accepted, as before
    await verifier.verify(token)
    clock.now = now + 60 + 31
    with pytest.raises(NotAuthenticated, match="expired"):
        await verifier.verify(token)


async def test_a_remembered_token_is_refused_once_its_key_leaves_the_jwks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An RS256 token accepted under the identity provider's key is 401 once a refresh of the
    JWKS no longer publishes that key (rotated out), though the verifier has seen it before."""
    from app.core.errors import NotAuthenticated
    from app.core.security import JWKSCache, TokenVerifier

    published = {"keys": [forge.rsa_jwk(RSA_KEY, KID)]}
    ticks = {"now": 0.0}
    jwks = JWKSCache("https://idp.test/jwks", ttl_seconds=300, timeout=1.0,
                     transport=httpx.MockTransport(lambda _: httpx.Response(200, json=published)),
                     min_refresh_seconds=30, clock=lambda: ticks["now"])
    settings = Settings(env="production", database_url="sqlite+aiosqlite://",
                        jwks_url="https://idp.test/jwks", jwt_secret=None, log_level="WARNING")
    verifier = TokenVerifier(settings, jwks)
    token = forge.rs256(forge.claims(service="svc"), RSA_KEY, KID)
    await verifier.verify(token)
    await verifier.verify(token)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published["keys"] = [forge.rsa_jwk(other, "idp-key-2")]
    ticks["now"] = 301.0  # the cached set is stale: the next check refetches it
    with pytest.raises(NotAuthenticated, match="unknown key"):
        await verifier.verify(token)


async def test_a_remembered_token_is_refused_once_its_key_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same kid republished with another key: the token signed by the old one is 401."""
    from app.core.errors import NotAuthenticated
    from app.core.security import JWKSCache, TokenVerifier

    published = {"keys": [forge.rsa_jwk(RSA_KEY, KID)]}
    ticks = {"now": 0.0}
    jwks = JWKSCache("https://idp.test/jwks", ttl_seconds=300, timeout=1.0,
                     transport=httpx.MockTransport(lambda _: httpx.Response(200, json=published)),
                     min_refresh_seconds=30, clock=lambda: ticks["now"])
    settings = Settings(env="production", database_url="sqlite+aiosqlite://",
                        jwks_url="https://idp.test/jwks", jwt_secret=None, log_level="WARNING")
    verifier = TokenVerifier(settings, jwks)
    token = forge.rs256(forge.claims(service="svc"), RSA_KEY, KID)
    await verifier.verify(token)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published["keys"] = [forge.rsa_jwk(other, KID)]
    ticks["now"] = 301.0
    with pytest.raises(NotAuthenticated, match="signature"):
        await verifier.verify(token)
