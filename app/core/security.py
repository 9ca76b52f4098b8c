"""Every JWT operation of the service, in one module, on python-jose.

python-jose 3.5.0 carries CVE-2026-85394 (a DER-encoded public key accepted as an HMAC secret).
The attack needs a verifier that lets the token's header choose between HMAC and asymmetric
algorithms, or that hands public-key bytes to HMAC. Here every key has exactly one algorithm,
fixed by configuration, never by the token:

* HS256 keys are only the configured ``YJ_JWT_SECRET`` (and, outside dev/test, only a long one);
* RS256/ES256 keys come only from the JWKS, are built with ``jwk.construct`` for the algorithm
  their JWK implies, and are never used as HMAC secrets.

The token's ``alg`` header is only compared against the algorithm pinned to the chosen key and
is refused when they differ; ``jwt.decode`` then gets ``algorithms=[that one]``, the audience and
the issuer, with ``exp``, ``iss``, ``aud`` and ``sub`` required.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError

from app.core.config import Settings
from app.core.errors import NotAuthenticated

ROLES = frozenset(
    {"case_holder", "line_manager", "duty_manager", "chair", "panel_admin", "admin", "feed"}
)
STAFF_ROLES = frozenset({"case_holder", "line_manager", "duty_manager", "chair", "panel_admin"})
ASYMMETRIC_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}
_DECODE_OPTIONS = {
    "require_exp": True,
    "require_iss": True,
    "require_aud": True,
    "require_sub": True,
    "verify_exp": True,
    "verify_aud": True,
    "verify_iss": True,
    "verify_signature": True,
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: staff id, roles and service slug, from a verified token."""

    sub: str
    roles: frozenset[str]
    service: str | None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has(self, *roles: str) -> bool:
        """Whether the token carries any of ``roles``."""
        return bool(self.roles.intersection(roles))


class JWKSCache:
    """Fetches the identity provider's JWKS with httpx, caches it, refreshes on an unknown kid."""

    def __init__(
        self, url: str, ttl_seconds: int, timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.ttl = ttl_seconds
        self.timeout = timeout
        self.transport = transport
        self._keys: dict[str, tuple[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> tuple[str, Any]:
        """The (pinned algorithm, public key) for ``kid``, refreshing once if it is unknown."""
        stale = time.monotonic() - self._fetched_at > self.ttl
        if stale or kid not in self._keys:
            await self._refresh(force=kid not in self._keys)
        if kid not in self._keys:
            raise NotAuthenticated("The token was signed with an unknown key.")
        return self._keys[kid]

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            # Another request may have refreshed while we waited; a forced refresh is rate
            # limited to one per few seconds so forged kids cannot hammer the provider.
            if time.monotonic() - self._fetched_at < (5 if force else self.ttl):
                return
            try:
                async with httpx.AsyncClient(
                    timeout=self.timeout, transport=self.transport
                ) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise NotAuthenticated("The identity provider's keys are unavailable.") from exc
                return
            self._keys = _parse_jwks(document)
            self._fetched_at = time.monotonic()


def _parse_jwks(document: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    keys: dict[str, tuple[str, Any]] = {}
    for entry in document.get("keys", []):
        kty, kid = entry.get("kty"), entry.get("kid")
        alg = ASYMMETRIC_ALGORITHMS.get(kty or "")
        if not kid or alg is None or entry.get("use", "sig") != "sig":
            continue  # symmetric ("oct") or unusable keys are never accepted from a JWKS
        if entry.get("alg") not in (None, alg):
            continue
        if kty == "EC" and entry.get("crv") != "P-256":
            continue
        keys[kid] = (alg, jwk.construct(entry, algorithm=alg))
    return keys


class TokenVerifier:
    """Verifies bearer tokens against the configured keys and returns a :class:`Principal`."""

    def __init__(self, settings: Settings, jwks: JWKSCache | None = None) -> None:
        self.settings = settings
        self.jwks = jwks
        if self.jwks is None and settings.jwks_url:
            self.jwks = JWKSCache(
                settings.jwks_url, settings.jwks_cache_seconds, settings.jwks_timeout_seconds
            )

    async def verify(self, token: str) -> Principal:
        """Check signature, algorithm, expiry, issuer, audience and claims; 401 otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise NotAuthenticated("The bearer token is malformed.") from exc
        algorithm, key = await self._key_for(header)
        if header.get("alg") != algorithm:
            raise NotAuthenticated("The token's algorithm is not allowed for its key.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={**_DECODE_OPTIONS, "leeway": self.settings.jwt_leeway_seconds},
            )
        except ExpiredSignatureError as exc:
            raise NotAuthenticated("The token has expired.") from exc
        except JWTClaimsError as exc:
            raise NotAuthenticated("The token's issuer, audience or claims are wrong.") from exc
        except JOSEError as exc:
            raise NotAuthenticated("The token's signature is not valid.") from exc
        return _principal(claims)

    async def _key_for(self, header: dict[str, Any]) -> tuple[str, Any]:
        alg = header.get("alg")
        if alg == "HS256" and self.settings.hs256_enabled:
            return "HS256", self.settings.jwt_secret
        if alg in ASYMMETRIC_ALGORITHMS.values() and self.jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise NotAuthenticated("The token names no key id.")
            return await self.jwks.key_for(kid)
        raise NotAuthenticated("The token's algorithm is not accepted here.")


def _principal(claims: dict[str, Any]) -> Principal:
    sub, roles, service = claims.get("sub"), claims.get("roles"), claims.get("service")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 128:
        raise NotAuthenticated("The token's subject is missing or invalid.")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise NotAuthenticated("The token carries no roles.")
    known = frozenset(roles) & ROLES
    if not known:
        raise NotAuthenticated("The token carries no known role.")
    if service is not None and (not isinstance(service, str) or len(service) > 64):
        raise NotAuthenticated("The token's service claim is invalid.")
    if service is None and known != {"admin"}:
        raise NotAuthenticated("The token names no service.")
    return Principal(sub=sub, roles=known, service=service, claims=claims)


def mint_dev_token(
    settings: Settings,
    *,
    sub: str,
    roles: list[str],
    service: str | None,
    ttl_seconds: int = 8 * 3600,
    now: float | None = None,
) -> str:
    """Sign an HS256 token with the configured secret (dev/test only)."""
    if settings.env not in {"dev", "test"} or not settings.jwt_secret:
        raise RuntimeError("dev tokens can only be minted in dev/test with YJ_JWT_SECRET set")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if service is not None:
        claims["service"] = service
    return str(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
