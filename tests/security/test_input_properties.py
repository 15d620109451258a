"""Hypothesis properties of every client-supplied parameter, checked against a real API process.

The pure parsers have their own properties (tests/test_parsing.py); these
check the same rules where a client meets them: the inbox's query parameters
(`limit`, `offset`, `cursor`, `since`, `until`) answer 200 or 422, never a
5xx, and `since` — in the handshake's query and in a `resume` message — is
taken exactly when it is ASCII digits within range, else the socket is closed
1008 with a reason.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from signalhub.parsing import MAX_SEQ
from tests.support import SECRET

NON_ASCII_DIGITS = [chr(c) for c in range(0x80, 0x10000) if chr(c).isdigit()]
ASCII_DIGITS = "0123456789"

run = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))

digit_strings = st.one_of(
    st.text(alphabet=ASCII_DIGITS, min_size=1, max_size=25),
    st.text(alphabet=st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=4),
    st.builds(lambda a, u, b: a + u + b, st.text(alphabet=ASCII_DIGITS, max_size=3),
              st.sampled_from(NON_ASCII_DIGITS), st.text(alphabet=ASCII_DIGITS, max_size=3)),
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


edge_years = st.sampled_from([1, 2, 1970, 9998, 9999])
timestamps = st.one_of(
    st.builds(
        lambda moment, minutes: moment.isoformat() + _offset(minutes),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    ),
    st.builds(
        lambda year, minutes: f"{year:04d}-{'01-01T00:00:00' if year < 5000 else '12-31T23:59:59'}{_offset(minutes)}",
        edge_years, st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    ),
    digit_strings,
    st.sampled_from(["Z", "now", "2026-13-01T00:00:00Z", "2026-01-01", "9999-12-31T23:59:59.999999Z"]),
)


@pytest.fixture(scope="module")
def user_headers():
    import time

    import jwt

    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": int(time.time()) + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def test_inbox_query_parameters_answer_200_or_422_never_a_5xx(api, user_headers):
    with httpx.Client(base_url=api.base, headers=user_headers, timeout=10) as http:

        @run
        @given(name=st.sampled_from(["limit", "offset", "cursor"]), value=digit_strings)
        @example(name="limit", value="１０")
        @example(name="cursor", value="١٢")
        @example(name="offset", value="²")
        @example(name="cursor", value="9" * 19)
        def numbers(name, value):
            response = http.get("/api/v1/inbox/signals", params={name: value})
            assert response.status_code in (200, 422), (name, value, response.status_code, response.text[:200])
            if any(ch in NON_ASCII_DIGITS for ch in value):
                assert response.status_code == 422, (name, value)

        @run
        @given(name=st.sampled_from(["since", "until"]), value=timestamps)
        @example(name="since", value="0001-01-01T00:00:00+14:00")
        @example(name="until", value="9999-12-31T23:59:59-14:00")
        @example(name="since", value="٢٠٢٦-01-01T00:00:00Z")
        def bounds(name, value):
            response = http.get("/api/v1/inbox/signals", params={name: value})
            assert response.status_code in (200, 422), (name, value, response.status_code, response.text[:200])

        numbers()
        bounds()


def _expected_seq(value: str) -> int | None:
    if value and len(value) <= 19 and all(ch in ASCII_DIGITS for ch in value) and int(value) <= MAX_SEQ:
        return int(value)
    return None


def _outcome(url: str, first: str | None = None) -> str | int:
    """"connected"/"resumed" (with the hello's position) or the close code the server chose."""
    try:
        with connect(url, open_timeout=10, close_timeout=5) as ws:
            hello = json.loads(ws.recv(timeout=10))
            if first is None:
                return hello["type"]
            ws.send(first)
            while True:
                message = json.loads(ws.recv(timeout=10))
                if message.get("type") == "resumed":
                    return "resumed"
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "dropped without a close frame"
        assert closed.rcvd.code != 1008 or "since" in closed.rcvd.reason
        return closed.rcvd.code


def test_since_in_the_handshake_and_in_resume_is_taken_exactly_when_it_is_ascii_digits(api, token):
    @run
    @given(value=digit_strings)
    @example(value="²")
    @example(value="١٢")
    @example(value="１")
    @example(value=str(MAX_SEQ))
    @example(value=str(MAX_SEQ + 1))
    def check(value):
        user_token = token(uuid.uuid4())
        expected = _expected_seq(value)
        query = httpx.QueryParams({"token": user_token, "since": value})
        handshake = _outcome(f"{api.ws}?{query}")
        assert handshake == ("connected" if expected is not None else 1008), (value, handshake)
        resumed = _outcome(f"{api.ws}?token={user_token}", json.dumps({"type": "resume", "since": value}))
        assert resumed == ("resumed" if expected is not None else 1008), (value, resumed)

    check()

