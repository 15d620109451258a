"""Property tests for every parser of client input (signalhub.parsing, the data depth limit).

Each parser answers a value or None/ValueError, never anything else, for any
input: Unicode digits in every script, signs, spaces, huge numbers, the
edges of the datetime range, containers nested past the limit.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from signalhub.parsing import MAX_SEQ, ascii_digits, json_depth, parse_cursor, parse_seq, utc_bound
from signalhub.signals import MAX_DATA_DEPTH, UNSERVABLE_DATA, SignalError, servable_data, validate_signal

#: Every character Python's str.isdigit() accepts that is not "0"-"9" (superscripts, Arabic-Indic, fullwidth, …).
NON_ASCII_DIGITS = [chr(c) for c in range(0x80, 0x10000) if chr(c).isdigit()]


def test_there_are_many_non_ascii_digits_to_refuse():
    assert len(NON_ASCII_DIGITS) > 300 and "²" in NON_ASCII_DIGITS and "١" in NON_ASCII_DIGITS and "１" in NON_ASCII_DIGITS


@given(st.integers(min_value=0, max_value=MAX_SEQ))
def test_parse_seq_reads_every_seq_written_in_ascii_digits(seq):
    assert parse_seq(str(seq)) == seq
    assert parse_seq(seq) == seq


@given(st.text(alphabet=st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=20), st.text(alphabet="0123456789", max_size=5))
@example("²", "")
@example("١٢", "")
@example("１", "")
def test_parse_seq_refuses_any_unicode_digit_anywhere(unicode_digits, ascii_part):
    for text in (unicode_digits, ascii_part + unicode_digits, unicode_digits + ascii_part):
        assert parse_seq(text) is None
        assert parse_cursor(text) is None


@given(st.text(max_size=40))
@example("")
@example(" 1")
@example("1 ")
@example("+1")
@example("-1")
@example("1_000")
@example("0x10")
@example("9" * 19)
@example("9" * 5000)
def test_parse_seq_answers_an_int_in_range_or_none_for_any_text(text):
    value = parse_seq(text)
    if value is None:
        assert not (ascii_digits(text, max_length=19) and int(text) <= MAX_SEQ)
    else:
        assert set(text) <= set("0123456789") and 0 <= value <= MAX_SEQ and value == int(text)


@given(
    st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.booleans(), st.none(),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    )
)
@example(MAX_SEQ + 1)
@example(-1)
@example(True)
@example(1.0)
def test_parse_seq_takes_json_integers_in_range_only(value):
    expected = value if type(value) is int and 0 <= value <= MAX_SEQ else None
    assert parse_seq(value) == expected


aware_offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=aware_offsets))
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))))
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
def test_utc_bound_answers_utc_or_a_clear_value_error_near_the_datetime_limits(moment):
    try:
        converted = utc_bound(moment, "since")
    except ValueError as exc:
        assert "out of range" in str(exc)
        assert moment.year in (1, 9999)  # only the edges can overflow
    else:
        assert converted.utcoffset() == timedelta(0) and converted == moment


@given(st.datetimes())
def test_utc_bound_refuses_a_time_without_a_zone(moment):
    with pytest.raises(ValueError, match="time zone"):
        utc_bound(moment, "until")


def _depth_by_recursion(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth_by_recursion(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth_by_recursion(v) for v in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=30,
)


def _nest(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@given(json_values)
def test_json_depth_is_the_nesting_depth(value):
    assert json_depth(value, limit=1000) == _depth_by_recursion(value)


@given(st.integers(min_value=1, max_value=5000))
@example(MAX_DATA_DEPTH)
@example(MAX_DATA_DEPTH + 1)
@example(900)
def test_data_deeper_than_the_limit_is_refused_at_emit_and_replaced_when_read(depth):
    data = _nest(depth)  # deeper than Python's own recursion limit at the top of the range
    assert json_depth(data, limit=MAX_DATA_DEPTH) == min(depth, MAX_DATA_DEPTH + 1)
    if depth <= MAX_DATA_DEPTH:
        assert validate_signal("completion", "wf", data) == data
        assert servable_data(data) is data
    else:
        with pytest.raises(SignalError, match=f"deeper than {MAX_DATA_DEPTH} levels"):
            validate_signal("completion", "wf", data)
        assert servable_data(data) == UNSERVABLE_DATA
        json.dumps(servable_data(data))  # what is served is always encodable


def test_non_ascii_digit_list_matches_unicode_data():
    # The superscripts are digits but not decimals: int() refuses them, which once crashed a socket.
    assert unicodedata.digit("²") == 2 and not "²".isdecimal()
    with pytest.raises(ValueError):
        int("²")
