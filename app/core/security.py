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
import base64
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from jose import jwk, jws, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError

from app.core.config import Settings
from app.core.errors import NotAuthenticated, ServiceUnavailable
from app.core.identifiers import is_canonical_subject

if TYPE_CHECKING:  # httpx loads on the first JWKS fetch (only with YJ_JWKS_URL)
    import httpx

log = structlog.get_logger("yjrisk.security")

ROLES = frozenset(
    {"case_holder", "line_manager", "duty_manager", "chair", "panel_admin", "admin", "feed"}
)
STAFF_ROLES = frozenset({"case_holder", "line_manager", "duty_manager", "chair", "panel_admin"})
# What a machine client (role ``feed``) is for, from its token's ``scope`` claim (RFC 9068
# §2.2.3: space-separated): ``cms`` the case management system's integration (case upsert and
# events), ``feed:emrac`` / ``feed:mappa`` one automated referral feed (its own deliveries
# only). Other values grant nothing; a feed token with none of these may call nothing.
MACHINE_SCOPES = frozenset({"cms", "feed:emrac", "feed:mappa"})
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
    # A ``feed`` token's machine scopes (:data:`MACHINE_SCOPES` it carries); empty otherwise.
    scopes: frozenset[str] = frozenset()

    def has(self, *roles: str) -> bool:
        """Whether the token carries any of ``roles``."""
        return bool(self.roles.intersection(roles))

    @property
    def is_machine(self) -> bool:
        """Whether the caller is a machine client (a ``feed`` token with no staff role)."""
        return "feed" in self.roles and not self.roles & STAFF_ROLES


class JWKSCache:
    """The identity provider's JWKS, fetched with httpx and cached; one bad key spoils nothing.

    Each JWK is built on its own (RFC 7517 §5: unusable members are ignored), so a malformed or
    foreign key is skipped and logged while tokens signed by the good keys keep working. The set
    is refetched when older than ``ttl`` or on an unknown ``kid``, but never more than once per
    ``min_refresh_seconds`` whatever the outcome of the last attempt. When the provider is
    unreachable the cached keys stay in use; with no usable key at all the answer is 503.
    """

    def __init__(
        self, url: str, ttl_seconds: int, timeout: float,
        transport: httpx.AsyncBaseTransport | None = None, *,
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl = ttl_seconds
        self.timeout = timeout
        self.transport = transport
        self.min_refresh_seconds = min_refresh_seconds
        self.clock = clock
        self._keys: dict[str, tuple[str, Any]] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> tuple[str, Any]:
        """The (pinned algorithm, public key) for ``kid``; 401 if unknown, 503 with no keys."""
        if kid not in self._keys or self._stale():
            await self._refresh()
        if not self._keys:
            raise ServiceUnavailable("The identity provider's signing keys are unavailable.")
        if kid not in self._keys:
            raise NotAuthenticated("The token was signed with an unknown key.")
        return self._keys[kid]

    def _stale(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at > self.ttl

    def _may_attempt(self) -> bool:
        last = self._attempted_at
        return last is None or self.clock() - last >= self.min_refresh_seconds

    async def _refresh(self) -> None:
        async with self._lock:
            # Rate limit every attempt, failed or not, so forged kids cannot hammer the provider;
            # a request that waited on the lock finds the attempt already made.
            if not self._may_attempt():
                return
            self._attempted_at = self.clock()
            import httpx

            try:
                async with httpx.AsyncClient(
                    timeout=self.timeout, transport=self.transport
                ) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("jwks_fetch_failed", error_type=type(exc).__name__,
                            cached_keys=len(self._keys))
                return
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                log.warning("jwks_malformed", cached_keys=len(self._keys))
                return
            self._keys = parse_jwks(document["keys"])
            self._loaded_at = self.clock()


_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_EC_COORDINATE_BYTES = 32  # P-256
_MIN_RSA_BITS = 2048


def _b64url_uint(value: Any, name: str) -> bytes:
    """The bytes of a base64url (no padding) JWK member; ValueError when it is not one."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError(f"'{name}' is not base64url")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if not raw or int.from_bytes(raw, "big") == 0:
        raise ValueError(f"'{name}' is empty or zero")
    return raw


def _public_jwk(entry: Any) -> tuple[str, dict[str, str]]:
    """The pinned algorithm and the public members of one JWK; ValueError if it is unusable.

    Only RSA (RS256, >= 2048 bits) and EC P-256 (ES256) signing keys qualify; symmetric ``oct``
    keys are refused outright (their bytes must never become an HMAC secret), as are keys meant
    for encryption, for another algorithm, or carrying private members.
    """
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    kty, kid = entry.get("kty"), entry.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise ValueError("no usable kid")
    alg = ASYMMETRIC_ALGORITHMS.get(kty) if isinstance(kty, str) else None
    if alg is None:
        raise ValueError("key type is not RSA or EC")
    if entry.get("use", "sig") != "sig":
        raise ValueError("not a signing key")
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ValueError("key_ops does not allow verify")
    if entry.get("alg", alg) != alg:
        raise ValueError("alg does not match the key type")
    if "d" in entry:
        raise ValueError("a private key was published")
    if kty == "RSA":
        n, e = _b64url_uint(entry.get("n"), "n"), _b64url_uint(entry.get("e"), "e")
        if int.from_bytes(n, "big").bit_length() < _MIN_RSA_BITS:
            raise ValueError("RSA modulus shorter than 2048 bits")
        if int.from_bytes(e, "big") < 3 or not int.from_bytes(e, "big") % 2:
            raise ValueError("RSA exponent is not an odd number >= 3")
        return alg, {"kty": "RSA", "n": entry["n"], "e": entry["e"]}
    if entry.get("crv") != "P-256":
        raise ValueError("EC key is not on P-256")
    for member in ("x", "y"):
        if len(_b64url_uint(entry.get(member), member)) > _EC_COORDINATE_BYTES:
            raise ValueError(f"'{member}' is too long for P-256")
    return alg, {"kty": "EC", "crv": "P-256", "x": entry["x"], "y": entry["y"]}


def parse_jwks(entries: list[Any]) -> dict[str, tuple[str, Any]]:
    """kid → (pinned algorithm, public key) for every usable JWK; the others are logged and
    skipped (RFC 7517 §5), and a kid published twice is dropped as ambiguous."""
    keys: dict[str, tuple[str, Any]] = {}
    duplicated: set[str] = set()
    for index, entry in enumerate(entries[:100]):
        try:
            alg, public = _public_jwk(entry)
            key = jwk.construct(public, algorithm=alg)
            if not key.is_public():
                raise ValueError("not a public key")
        except Exception as exc:  # noqa: BLE001 - any failure makes just this key unusable
            reason = str(exc) if isinstance(exc, ValueError) else "the key could not be built"
            log.warning("jwks_key_skipped", index=index, reason=reason[:120])
            continue
        kid = entry["kid"]
        if kid in keys or kid in duplicated:
            duplicated.add(kid)
            keys.pop(kid, None)
            log.warning("jwks_key_skipped", index=index, reason="kid published twice")
            continue
        keys[kid] = (alg, key)
    return keys


# Tokens verified lately (issue 15: the full check costs ~0.25 ms of CPU, ~4% of a write, and a
# client sends the same token with every request). Bounded in count and in token length.
_VERIFIED_MAX = 1024
_VERIFIED_TOKEN_CHARS = 2048


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check at ``at`` (wall clock) with ``key``, and its principal."""

    header: dict[str, Any]
    key: Any
    principal: Principal
    at: float


class TokenVerifier:
    """Verifies bearer tokens against the configured keys and returns a :class:`Principal`.

    A token that passed is remembered (its exact string, the key object it was checked with,
    its principal): the same string again skips the signature and claim checks only while
    nothing they depend on can have changed: the key for its header is still that very
    object (a JWKS refresh builds new ones), the wall clock has not gone back, and it is
    still before ``exp``. ``nbf``, ``iat`` and the lifetime cap only become easier to pass as
    time goes on. Anything else goes through the whole check again, so every answer, accepted
    or refused, is the one the whole check gives."""

    def __init__(self, settings: Settings, jwks: JWKSCache | None = None) -> None:
        self.settings = settings
        self.jwks = jwks
        self._verified: dict[str, _Verified] = {}
        if self.jwks is None and settings.jwks_url:
            self.jwks = JWKSCache(
                settings.jwks_url, settings.jwks_cache_seconds, settings.jwks_timeout_seconds,
                min_refresh_seconds=settings.jwks_min_refresh_seconds,
            )

    async def verify(self, token: str) -> Principal:
        """Check signature, algorithm, expiry, issuer, audience and claims; 401 otherwise."""
        if not _COMPACT_JWS.fullmatch(token):
            # RFC 7515 §7.1 with RFC 7515 §2's base64url without padding: python-jose would
            # also take '=' padding or the standard alphabet, so one token would have many
            # spellings (a deny-list or replay cache keyed on the string could be dodged).
            raise NotAuthenticated("The bearer token is malformed.")
        known = self._verified.get(token)
        if known is not None:
            now = time.time()
            _, key = await self._key_for(known.header)
            if key is known.key and known.at <= now < known.principal.claims["exp"]:
                return known.principal
            self._verified.pop(token, None)
        principal, header, key = await self._verify(token)
        if len(token) <= _VERIFIED_TOKEN_CHARS:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = _Verified(header, key, principal, time.time())
        return principal

    async def _verify(self, token: str) -> tuple[Principal, dict[str, Any], Any]:
        """Every check of a compact JWS: the principal, the header and the key it passed with."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise NotAuthenticated("The bearer token is malformed.") from exc
        if "crit" in header:
            # RFC 7515 §4.1.11: a recipient must refuse extensions it does not understand, and
            # this verifier understands none.
            raise NotAuthenticated("The token requires header extensions this service refuses.")
        algorithm, key = await self._key_for(header)
        if header.get("alg") != algorithm:
            raise NotAuthenticated("The token's algorithm is not allowed for its key.")
        try:
            # Signature first, then the claim types, and only then python-jose's claim checks,
            # which would coerce "1700000000" or true into a time (or crash on a list).
            self._check_claim_values(
                _check_claim_types(jws.verify(token, key, algorithms=[algorithm])))
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
        except (TypeError, ValueError) as exc:  # defence in depth: never a 500 for a token
            raise NotAuthenticated("The token's claims are malformed.") from exc
        now = time.time()
        issued_at = claims.get("iat")
        if issued_at is not None and issued_at > now + self.settings.jwt_leeway_seconds:
            raise NotAuthenticated("The token was issued in the future.")
        if claims["exp"] > now + self.settings.jwt_max_lifetime_seconds \
                + self.settings.jwt_leeway_seconds:
            raise NotAuthenticated("The token expires too far ahead; ask for a shorter-lived one.")
        return _principal(claims), header, key

    def _check_claim_values(self, claims: dict[str, Any]) -> None:
        """401 naming the part that does not line up (docs/integrating.md section 1: "a 401
        problem's detail says which part did not"): the issuer, the audience, a subject that
        is not a string, a token not valid yet (``nbf``). python-jose's own checks, which run
        next, said one detail for all four (attack 26a, A26a-15). No claim's value is echoed."""
        if claims.get("iss") != self.settings.jwt_issuer:
            raise NotAuthenticated("The token's issuer ('iss') is not the one this service "
                                   "trusts (YJ_JWT_ISSUER).")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.jwt_audience not in audiences:
            raise NotAuthenticated("The token's audience ('aud') does not name this service "
                                   "(YJ_JWT_AUDIENCE).")
        if not isinstance(claims.get("sub"), str):
            raise NotAuthenticated("The token's 'sub' claim is not a string.")
        not_before = claims.get("nbf")
        if not_before is not None and not_before > time.time() + self.settings.jwt_leeway_seconds:
            raise NotAuthenticated("The token is not valid yet (its 'nbf' is in the future).")

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


_TIME_CLAIMS = ("exp", "nbf", "iat")
# The claims a token must carry (the require_* options of _DECODE_OPTIONS), checked after the
# signature.
_REQUIRED_CLAIMS = tuple(key.removeprefix("require_") for key, on in _DECODE_OPTIONS.items()
                         if key.startswith("require_") and on)
# header.payload.signature, each unpadded base64url (RFC 7515 §2, §7.1); a signature is required.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Staff ids and service slugs become database values and log fields: no control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_json_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_claim_types(payload: bytes) -> dict[str, Any]:
    """401 unless the verified payload is a JSON object whose ``exp``/``nbf``/``iat`` are JSON
    numbers (RFC 7519 §2 NumericDate; python-jose would take "1700000000" or true)."""
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise NotAuthenticated("The token's payload is not JSON.") from exc
    if not isinstance(claims, dict):
        raise NotAuthenticated("The token's payload is not a JSON object.")
    missing = [name for name in _REQUIRED_CLAIMS if name not in claims]
    if missing:
        # Named, so an integrator debugging an identity provider's mappers sees which claim
        # (python-jose reports a missing claim as a bare JWTError, read as a bad signature).
        raise NotAuthenticated(f"The token has no '{missing[0]}' claim.")
    for name in _TIME_CLAIMS:
        if name in claims and not _is_json_number(claims[name]):
            raise NotAuthenticated(f"The token's '{name}' claim is not a number.")
    return claims


def _principal(claims: dict[str, Any]) -> Principal:
    sub, roles, service = claims.get("sub"), claims.get("roles"), claims.get("service")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 128 or _CONTROL.search(sub) \
            or not is_canonical_subject(sub):
        raise NotAuthenticated("The token's subject is missing or invalid.")
    if not isinstance(roles, list) or not roles or len(roles) > len(ROLES):
        raise NotAuthenticated("The token's roles must be a list of role names.")
    if not all(isinstance(r, str) and r in ROLES for r in roles):
        raise NotAuthenticated("The token carries an unknown role.")
    known = frozenset(roles)
    if service is not None and (not isinstance(service, str) or len(service) > 64
                                or _CONTROL.search(service)):
        raise NotAuthenticated("The token's service claim is invalid.")
    if service is None and known != {"admin"}:
        raise NotAuthenticated("The token names no service.")
    scopes = _machine_scopes(claims.get("scope")) if "feed" in known else frozenset()
    return Principal(sub=sub, roles=known, service=service, claims=claims, scopes=scopes)


# RFC 6749 §3.3 scope-token: printable ASCII but space, '"' and '\\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _machine_scopes(scope: Any) -> frozenset[str]:
    """The :data:`MACHINE_SCOPES` a feed token's ``scope`` claim grants (a space-separated
    string, RFC 9068 §2.2.3; absent: none); 401 for a claim of another shape."""
    if scope is None:
        return frozenset()
    if not isinstance(scope, str) or len(scope) > 2048 \
            or not all(_SCOPE_TOKEN.fullmatch(t) for t in scope.split(" ") if t):
        raise NotAuthenticated("The token's scope claim must be a space-separated string.")
    return MACHINE_SCOPES.intersection(scope.split(" "))


def mint_dev_token(
    settings: Settings,
    *,
    sub: str,
    roles: list[str],
    service: str | None,
    ttl_seconds: int = 8 * 3600,
    now: float | None = None,
    scope: str | None = None,
) -> str:
    """Sign an HS256 token with the configured secret (dev/test only); ``scope``: a machine
    client's scopes, space-separated (``cms``, ``feed:emrac``, ``feed:mappa``)."""
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
    if scope is not None:
        claims["scope"] = scope
    return str(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
