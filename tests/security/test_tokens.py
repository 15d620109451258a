"""Token verification per RFC 8725, against real PyJWT and a real JWKS endpoint.

`TokenVerifier` is exercised directly here (the same object the API uses);
tests/security/test_tokens_over_api.py proves the same rules through a real
`signalhub api` process, and tests/api/test_auth_refusals.py the basics.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest

from signalhub.auth import AuthError, TokenVerifier
from tests.security.servers import JwksServer, SigningKey, user_claims
from tests.support import SECRET, free_port


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(claims: dict, secret: bytes, **header) -> str:
    """An HS256 token signed with any bytes (PyJWT itself refuses PEM keys as HMAC secrets)."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def unsigned(claims: dict, alg: str) -> str:
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{head}.{b64(json.dumps(claims).encode())}."


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1", "RS256")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey("ec-1", "ES256")


@pytest.fixture
def jwks(rsa_key, ec_key):
    with JwksServer([rsa_key, ec_key]) as server:
        yield server


def supabase_verifier(jwks: JwksServer, **kwargs) -> TokenVerifier:
    return TokenVerifier(SECRET, issuer=jwks.issuer, jwks_url=jwks.jwks_url, **kwargs)


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as error:
        verifier.verify(token)
    return str(error.value)


# -- HS256 (shared secret) -------------------------------------------------------------

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused_in_every_spelling(alg):
    token = unsigned(user_claims(str(uuid.uuid4())), alg)
    assert "not accepted" in refused(TokenVerifier(SECRET), token)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_token_signed_with_the_right_secret_but_an_unpinned_algorithm_is_refused(alg):
    token = jwt.encode(user_claims(str(uuid.uuid4())), SECRET, algorithm=alg)
    assert "not accepted" in refused(TokenVerifier(SECRET), token)


def test_rs256_token_is_refused_when_no_jwks_is_configured(rsa_key):
    token = rsa_key.sign(user_claims(str(uuid.uuid4())))
    assert "not accepted" in refused(TokenVerifier(SECRET), token)


def test_token_that_is_not_valid_yet_is_refused():
    token = jwt.encode(user_claims(str(uuid.uuid4()), nbf=int(time.time()) + 3600), SECRET, algorithm="HS256")
    assert "not valid yet" in refused(TokenVerifier(SECRET), token)


def test_token_within_the_clock_skew_leeway_is_accepted():
    user = uuid.uuid4()
    token = jwt.encode(user_claims(str(user), nbf=int(time.time()) + 10), SECRET, algorithm="HS256")
    assert TokenVerifier(SECRET, leeway=30).verify(token).user_id == user


def test_token_with_a_tampered_payload_is_refused():
    good = jwt.encode(user_claims(str(uuid.uuid4())), SECRET, algorithm="HS256")
    head, _, signature = good.split(".")
    forged_body = b64(json.dumps(user_claims(str(uuid.uuid4()))).encode())
    assert "signature" in refused(TokenVerifier(SECRET), f"{head}.{forged_body}.{signature}")


@pytest.mark.parametrize("sub", [12345, "", "not-a-uuid", "00000000-0000-0000-0000-00000000000g"])
def test_user_token_whose_sub_is_not_a_uuid_string_is_refused(sub):
    claims = {**user_claims(str(uuid.uuid4())), "sub": sub}
    token = hs256_by_hand(claims, SECRET.encode())
    refused(TokenVerifier(SECRET), token)


@pytest.mark.parametrize("aud", ["anon", ["anon", "service"], None])
def test_user_token_without_the_authenticated_audience_is_refused(aud):
    claims = user_claims(str(uuid.uuid4()))
    claims["aud"] = aud
    token = jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")
    assert "audience" in refused(TokenVerifier(SECRET), token)


def test_service_token_signed_with_another_secret_is_refused():
    token = jwt.encode({"role": "service_role", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256")
    assert "signature" in refused(TokenVerifier(SECRET), token)


@pytest.mark.parametrize("exp", [float("inf"), 10**400, "soon", [1]])
def test_absurd_expiry_is_refused_not_crashed(exp):
    # Signed with the real secret: only the claim is hostile. Before the fix, an
    # infinite or 400-digit `exp` escaped as OverflowError (a 500 on REST).
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = json.dumps({"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": exp})
    body_b64 = b64(body.encode())
    signature = hmac.new(SECRET.encode(), f"{head}.{body_b64}".encode(), hashlib.sha256).digest()
    with pytest.raises(AuthError):
        TokenVerifier(SECRET).verify(f"{head}.{body_b64}.{b64(signature)}")


# -- SUPABASE_URL: issuer and JWKS ----------------------------------------------------

@pytest.mark.parametrize("which", ["ec_key", "rsa_key"])
def test_asymmetric_token_is_verified_by_kid_against_the_jwks(jwks, which, request):
    key: SigningKey = request.getfixturevalue(which)
    user = uuid.uuid4()
    principal = supabase_verifier(jwks).verify(key.sign(user_claims(str(user), issuer=jwks.issuer)))
    assert principal.user_id == user
    assert jwks.requests == 1


def test_key_set_is_fetched_once_and_cached(jwks, rsa_key, ec_key):
    verifier = supabase_verifier(jwks)
    for key in (rsa_key, ec_key, rsa_key, ec_key, rsa_key):
        verifier.verify(key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer)))
    assert jwks.requests == 1


def test_unknown_kid_triggers_exactly_one_refresh_and_further_ones_wait_for_the_cooldown(jwks, rsa_key):
    verifier = supabase_verifier(jwks)
    verifier.verify(rsa_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer)))
    assert jwks.requests == 1

    assert "unknown" in refused(verifier, rsa_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), kid="made-up-1"))
    assert jwks.requests == 2  # one refresh for the unknown kid

    for n in range(5):  # a flood of made-up kids costs the JWKS endpoint nothing more
        refused(verifier, rsa_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), kid=f"made-up-{n + 2}"))
    assert jwks.requests == 2


def test_rotated_key_is_picked_up_by_one_refresh(jwks, rsa_key):
    verifier = supabase_verifier(jwks)
    verifier.verify(rsa_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer)))
    rotated = SigningKey("rsa-2", "RS256")
    jwks.keys.append(rotated)
    user = uuid.uuid4()
    assert verifier.verify(rotated.sign(user_claims(str(user), issuer=jwks.issuer))).user_id == user
    assert jwks.requests == 2


def test_hs256_token_signed_with_the_rsa_public_key_is_refused(jwks, rsa_key):
    """Algorithm confusion: the public key (which anyone can read) used as an HMAC secret."""
    claims = user_claims(str(uuid.uuid4()), issuer=jwks.issuer)
    for secret in (rsa_key.public_pem, json.dumps(rsa_key.public_jwk).encode()):
        token = hs256_by_hand(claims, secret, kid=rsa_key.kid)
        assert "signature" in refused(supabase_verifier(jwks), token)


def test_header_algorithm_that_does_not_match_the_kids_key_is_refused(jwks, ec_key, rsa_key):
    token = ec_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), kid=rsa_key.kid)
    assert "does not match" in refused(supabase_verifier(jwks), token)


def test_token_signed_by_a_key_outside_the_jwks_is_refused(jwks, rsa_key):
    impostor = SigningKey(rsa_key.kid, "RS256")  # same kid, different key
    assert "signature" in refused(supabase_verifier(jwks), impostor.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer)))


@pytest.mark.parametrize("iss", ["https://evil.example/auth/v1", None])
def test_user_token_from_another_issuer_is_refused(jwks, ec_key, iss):
    claims = user_claims(str(uuid.uuid4()), issuer=iss)
    assert "issuer" in refused(supabase_verifier(jwks), ec_key.sign(claims))
    hs = jwt.encode(claims, SECRET, algorithm="HS256")
    assert "issuer" in refused(supabase_verifier(jwks), hs)


def test_hs256_user_token_from_the_project_issuer_is_still_accepted(jwks):
    user = uuid.uuid4()
    token = jwt.encode(user_claims(str(user), issuer=jwks.issuer), SECRET, algorithm="HS256")
    assert supabase_verifier(jwks).verify(token).user_id == user


def test_asymmetric_token_without_kid_is_refused_without_a_fetch(jwks, ec_key):
    token = jwt.encode(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), ec_key.private, algorithm="ES256")
    assert "kid" in refused(supabase_verifier(jwks), token)
    assert jwks.requests == 0


def test_unreachable_jwks_is_an_auth_error_not_a_crash(ec_key):
    dead = f"http://127.0.0.1:{free_port()}"
    verifier = TokenVerifier(SECRET, issuer=f"{dead}/auth/v1", jwks_url=f"{dead}/auth/v1/.well-known/jwks.json")
    assert "unavailable" in refused(verifier, ec_key.sign(user_claims(str(uuid.uuid4()), issuer=f"{dead}/auth/v1")))


async def test_verify_async_fetches_keys_off_the_event_loop_and_agrees_with_verify(jwks, ec_key):
    verifier = supabase_verifier(jwks)
    user = uuid.uuid4()
    token = ec_key.sign(user_claims(str(user), issuer=jwks.issuer))
    assert verifier.needs_key_fetch(token)
    assert (await verifier.verify_async(token)).user_id == user
    assert not verifier.needs_key_fetch(token)  # cached now: verified inline next time
    assert (await verifier.verify_async(token)).user_id == user
    assert jwks.requests == 1
