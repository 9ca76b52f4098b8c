"""Hand-built JWS tokens for attack tests (deliberately not using the app's JWT module)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(service: str | None = "svc", **over: Any) -> dict:
    """Valid-looking claims for the default issuer and audience."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "case_holder-1", "roles": ["case_holder"], "iss": "yjrisk",
        "aud": "yjrisk-api", "iat": now, "exp": now + 600,
    }
    if service is not None:
        body["service"] = service
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def _segments(header: dict, payload: dict) -> bytes:
    return (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    ).encode()


def hs256(payload: dict, secret: bytes, header: dict | None = None) -> str:
    """An HS256 token signed with ``secret`` (any bytes: used for key-confusion forgeries)."""
    head = {"alg": "HS256", "typ": "JWT", **(header or {})}
    signing_input = _segments(head, payload)
    sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return signing_input.decode() + "." + b64url(sig)


def unsigned(payload: dict) -> str:
    """An ``alg: none`` token."""
    return _segments({"alg": "none", "typ": "JWT"}, payload).decode() + "."


def rs256(payload: dict, key: rsa.RSAPrivateKey, kid: str) -> str:
    """A genuine RS256 token."""
    signing_input = _segments({"alg": "RS256", "typ": "JWT", "kid": kid}, payload)
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(sig)


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    """The public JWK of an RSA key."""
    numbers = key.public_key().public_numbers()

    def enc(n: int) -> str:
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": enc(numbers.n),
            "e": enc(numbers.e)}


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    """The DER (SubjectPublicKeyInfo) bytes of the public key: the CVE's HMAC 'secret'."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The PEM bytes of the public key."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def es256(payload: dict, key: Any, kid: str, header: dict | None = None) -> str:
    """A genuine ES256 token (raw r||s signature, RFC 7518 §3.4)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = _segments({"alg": "ES256", "typ": "JWT", "kid": kid, **(header or {})},
                              payload)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return signing_input.decode() + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def ec_jwk(key: Any, kid: str) -> dict[str, str]:
    """The public JWK of an EC P-256 key."""
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}


def rs256_with_header(payload: dict, key: rsa.RSAPrivateKey, kid: str, header: dict) -> str:
    """A genuine RS256 token with extra header members (``crit`` and friends)."""
    signing_input = _segments({"alg": "RS256", "typ": "JWT", "kid": kid, **header}, payload)
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(sig)
