"""Token verification (PyJWT) and dev-token minting.

Guarantees (RFC 8725):
- algorithms are pinned: HS256 with the shared secret; ES256/RS256 only
  through the project's JWKS when `SUPABASE_URL` is set, and only with the
  algorithm of the key the `kid` names. `none` is never accepted and an
  HS-signed token is never checked with a public key.
- `exp` is required; `nbf`/`iat` are honoured; a small leeway absorbs clock skew;
  all three must be JSON numbers (RFC 7519 NumericDate): `"exp": "1900000000"`
  is refused, though PyJWT alone would convert it.
- a *user* token needs `aud` = `authenticated` and `sub` = a UUID (and, with
  `SUPABASE_URL`, `iss` = `$SUPABASE_URL/auth/v1`);
  a *service* token needs `role` = `service_role` (Supabase's service key shape).
- the JWKS is fetched once and cached; a token naming an unknown `kid` makes
  one refetch (key rotation), at most once per `JWKS_REFRESH_COOLDOWN` seconds,
  so made-up `kid`s cannot turn the verifier into a load generator.
- whatever the token holds, `verify` answers a `Principal` or `AuthError`,
  never another exception (a hostile token is a 401/4401, not a 500).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

import jwt
import jwt.types

USER_AUDIENCE: Final = "authenticated"
SERVICE_ROLE: Final = "service_role"
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
JWKS_LIFESPAN = 600  # seconds a fetched key set is trusted before it is refetched
JWKS_REFRESH_COOLDOWN = 30.0  # minimum seconds between refetches caused by unknown kids
JWKS_TIMEOUT = 5.0
# Far-future expiries are clamped so they stay ordinary floats (timers, JSON).
_MAX_EXPIRY = 2.0**53
#: Claims that must be NumericDates (JSON numbers) when present (RFC 7519 §4.1.4-6).
TIME_CLAIMS = ("exp", "nbf", "iat")


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


class JwksKeys:
    """The signing keys of one JWKS URL, by `kid` (thread-safe; blocking I/O).

    The key set is fetched on first use and cached for `lifespan` seconds. A
    `kid` not in the cache triggers exactly one refetch, unless the last such
    refetch was less than `refresh_cooldown` seconds ago.
    """

    def __init__(
        self,
        url: str,
        *,
        lifespan: float = JWKS_LIFESPAN,
        refresh_cooldown: float = JWKS_REFRESH_COOLDOWN,
        timeout: float = JWKS_TIMEOUT,
    ) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan, timeout=timeout)
        self._refresh_cooldown = refresh_cooldown
        self._last_refresh: float | None = None
        self._lock = threading.Lock()

    def is_cached(self, kid: object) -> bool:
        cache = self._client.jwk_set_cache
        jwk_set = cache.get() if cache is not None else None
        return jwk_set is not None and any(k.key_id == kid for k in jwk_set.keys)

    def key_for(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise AuthError("token header lacks a 'kid'")
        try:
            with self._lock:
                key = self._client.match_kid(self._client.get_signing_keys(), kid)
                if key is None and self._may_refresh():
                    self._last_refresh = time.monotonic()
                    key = self._client.match_kid(self._client.get_signing_keys(refresh=True), kid)
        except jwt.PyJWTError:
            raise AuthError("token signing keys are unavailable") from None
        if key is None:
            raise AuthError("token signing key is unknown")
        return key

    def _may_refresh(self) -> bool:
        return self._last_refresh is None or time.monotonic() - self._last_refresh >= self._refresh_cooldown


class TokenVerifier:
    """Verifies user and service tokens; see the module docstring for the rules."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        leeway: int = 30,
        jwks_refresh_cooldown: float = JWKS_REFRESH_COOLDOWN,
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._leeway = leeway
        self._jwks = JwksKeys(jwks_url, refresh_cooldown=jwks_refresh_cooldown) if jwks_url else None

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
        if isinstance(alg, str) and alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            signing_key = self._jwks.key_for(header.get("kid"))
            if signing_key.algorithm_name != alg:
                # The key decides the algorithm, never the token's header.
                raise AuthError("token algorithm does not match its signing key")
            return signing_key.key, [alg]
        raise AuthError(f"token algorithm {str(alg)[:20]!r} is not accepted")

    def needs_key_fetch(self, token: str | None) -> bool:
        """Whether verifying `token` may wait on the network (a JWKS fetch)."""
        if self._jwks is None or not token:
            return False
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return False
        return header.get("alg") in ASYMMETRIC_ALGORITHMS and not self._jwks.is_cached(header.get("kid"))

    async def verify_async(self, token: str | None) -> Principal:
        """`verify` for the event loop: a JWKS fetch runs in a thread, never on the loop."""
        if self.needs_key_fetch(token):
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)

    def verify(self, token: str | None) -> Principal:
        """Return the caller, or raise `AuthError` (never leaks the token itself)."""
        if not token:
            raise AuthError("token is missing")
        key, algorithms = self._key_and_algorithms(token)
        options: jwt.types.Options = {"require": ["exp"], "verify_aud": False}
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
        except (ArithmeticError, TypeError, ValueError):
            # e.g. `"exp": 1e400` parses as infinity and PyJWT's int() overflows.
            raise AuthError("token claims are malformed") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        for name in TIME_CLAIMS:
            # PyJWT reads "exp": "1900000000" through int(); RFC 7519 §2 says a
            # NumericDate is a JSON number, so a string is refused, not converted.
            if name in claims and not _is_numeric_date(claims[name]):
                raise AuthError(f"token {name!r} must be a NumericDate (a JSON number)")
        try:
            exp = min(float(claims["exp"]), _MAX_EXPIRY)
        except (ArithmeticError, TypeError, ValueError):
            raise AuthError("token 'exp' must be a number") from None
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


def _is_numeric_date(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
