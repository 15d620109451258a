"""The request-head scanner (pure): follows any split of valid requests, refuses every over-limit head."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalhub.httphead import MAX_HEAD_BYTES, MAX_HEADERS, MAX_LINE_BYTES, HeadScanner

header_values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
bodies = st.binary(max_size=200)  # may contain CRLFCRLF: the scanner must skip it by Content-Length


@st.composite
def requests(draw) -> bytes:
    path = "/" + draw(st.text(alphabet="abc/?=&%", max_size=30))
    headers = draw(st.lists(st.tuples(st.sampled_from(["X-A", "Accept", "Host"]), header_values), max_size=8))
    body = draw(bodies)
    newline = draw(st.sampled_from(["\r\n", "\n"]))  # parsers accept a bare LF too (RFC 9112 §2.2)
    head = [f"POST {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}"]
    return (newline.join(head) + newline * 2).encode() + body


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[HeadScanner, list]:
    scanner = HeadScanner()
    answers = []
    start = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        answers.append(scanner.feed(data[start:cut]))
        start = cut
    return scanner, answers


@given(st.lists(requests(), min_size=1, max_size=4), st.lists(st.integers(min_value=0), max_size=20))
def test_any_split_of_well_formed_requests_passes_and_ends_between_requests(pipelined, cuts):
    scanner, answers = feed_in_pieces(b"".join(pipelined), cuts)
    assert answers == [None] * len(answers)
    assert not scanner.in_head and not scanner.done


@given(st.integers(min_value=MAX_LINE_BYTES, max_value=3 * MAX_LINE_BYTES), st.lists(st.integers(min_value=0), max_size=10))
def test_a_request_line_over_the_limit_is_414_however_it_arrives(length, cuts):
    data = b"GET /" + b"a" * length + b" HTTP/1.1\r\n\r\n"
    _, answers = feed_in_pieces(data, cuts)
    refusals = [a for a in answers if a is not None]
    assert refusals and refusals[0][0] == 414


@given(st.integers(min_value=MAX_LINE_BYTES, max_value=2 * MAX_LINE_BYTES), st.lists(st.integers(min_value=0), max_size=10))
def test_a_header_line_over_the_limit_is_431_however_it_arrives(length, cuts):
    data = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nX: " + b"a" * length + b"\r\n\r\n"
    _, answers = feed_in_pieces(data, cuts)
    refusals = [a for a in answers if a is not None]
    assert refusals and refusals[0][0] == 431


def test_too_many_headers_or_too_large_a_head_is_431():
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    assert HeadScanner().feed(many)[0] == 431
    big = b"GET / HTTP/1.1\r\n" + b"".join(b"X: " + b"a" * 8000 + b"\r\n" for _ in range(MAX_HEAD_BYTES // 8000 + 1))
    assert HeadScanner().feed(big)[0] == 431


def test_the_scanner_steps_aside_after_an_upgrade_or_a_chunked_head_only_once_the_head_ends():
    scanner = HeadScanner()
    assert scanner.feed(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n") is None
    assert not scanner.done and scanner.in_head
    assert scanner.feed(b"\r\n\x81\x85anything") is None
    assert scanner.done
    chunked = HeadScanner()
    assert chunked.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") is None
    assert chunked.done


def test_a_content_length_in_unicode_digits_is_left_to_the_http_parser():
    scanner = HeadScanner()
    assert scanner.feed("POST / HTTP/1.1\r\nContent-Length: ²\r\n\r\n".encode()) is None
    assert scanner.done
