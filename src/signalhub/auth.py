"""Token verification (PyJWT) and dev-token minting.

Guarantees (RFC 8725):
- algorithms are pinned: HS256 with the shared secret; ES256/RS256 only
  through the project's JWKS when `SUPABASE_URL` is set. `none` is never
  accepted and an HS-signed token is never checked with a public key.
- `exp` is required; `nbf`/`iat` are honoured; a small leeway absorbs clock skew.
- a *user* token needs `aud` = `authenticated` and `sub` = a UUID;
  a *service* token needs `role` = `service_role` (Supabase's service key shape).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

USER_AUDIENCE = "authenticated"
SERVICE_ROLE = "service_role"
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")


class AuthError(Exception):
    """The token is unusable; the message is safe to show to the client."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `user_id` is None for the service role."""

    role: Literal["authenticated", "service_role"]
    user_id: uuid.UUID | None
    expires_at: float

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE


class TokenVerifier:
    """Verifies user and service tokens; see the module docstring for the rules."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        leeway: int = 30,
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._leeway = leeway
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600) if jwks_url else None

    @classmethod
    def from_settings(cls, settings: Any) -> TokenVerifier:
        issuer = jwks = None
        if settings.supabase_url:
            base = settings.supabase_url.rstrip("/")
            issuer = f"{base}/auth/v1"
            jwks = f"{base}/auth/v1/.well-known/jwks.json"
        return cls(settings.jwt_secret(), issuer=issuer, jwks_url=jwks, leeway=settings.jwt_leeway_seconds)

    def _key_and_algorithms(self, token: str) -> tuple[Any, list[str]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("token is malformed") from None
        alg = header.get("alg")
        if alg == "HS256":
            return self._secret, ["HS256"]
        if alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            try:
                # PyJWKClient refetches the key set once when the kid is unknown.
                signing_key = self._jwks.get_signing_key_from_jwt(token)
            except jwt.PyJWTError as exc:
                raise AuthError(f"token signing key not found: {exc}") from None
            return signing_key.key, [alg]
        raise AuthError(f"token algorithm {alg!r} is not accepted")

    def verify(self, token: str | None) -> Principal:
        """Return the caller, or raise `AuthError` (never leaks the token itself)."""
        if not token:
            raise AuthError("token is missing")
        key, algorithms = self._key_and_algorithms(token)
        options = {"require": ["exp"], "verify_aud": False}
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                options=options,
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("token signature or format is invalid") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        exp = float(claims["exp"])
        if claims.get("role") == SERVICE_ROLE:
            # Supabase's service key is issued as "supabase", not by the auth server.
            return Principal(SERVICE_ROLE, None, exp)
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise AuthError("token issuer is not accepted")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if USER_AUDIENCE not in audiences:
            raise AuthError("token audience must be 'authenticated'")
        sub = claims.get("sub")
        if not isinstance(sub, str):
            raise AuthError("token lacks the 'sub' claim")
        try:
            user_id = uuid.UUID(sub)
        except ValueError:
            raise AuthError("token 'sub' must be a UUID") from None
        return Principal(USER_AUDIENCE, user_id, exp)


def mint_user_token(secret: str, user_id: uuid.UUID | str, ttl_seconds: int = 3600, **extra: Any) -> str:
    """A Supabase-shaped user access token (HS256), for development and tests."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "aud": USER_AUDIENCE,
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl_seconds,
        **extra,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_service_token(secret: str, ttl_seconds: int = 3600, **extra: Any) -> str:
    """A Supabase-shaped service-role token (HS256), for development and tests."""
    now = int(time.time())
    claims = {"role": SERVICE_ROLE, "iss": "signalhub", "iat": now, "exp": now + ttl_seconds, **extra}
    return jwt.encode(claims, secret, algorithm="HS256")
