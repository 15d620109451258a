"""`python -m bench` options: which systems and fan-out modes one invocation runs."""

from __future__ import annotations

from bench.__main__ import _split_systems, parse_args, parse_variant


def test_plain_system_names_mean_each_systems_default_run():
    entries = [parse_variant(s) for s in _split_systems(parse_args([]).systems)]
    assert entries == [("signalhub", {}), ("cm", {}), ("socketio", {})]


def test_a_system_entry_may_carry_variant_options_up_to_the_next_system():
    entries = [parse_variant(s) for s in _split_systems("signalhub,cm:deflate=0,ws=wsproto,socketio")]
    assert entries == [("signalhub", {}), ("cm", {"deflate": "0", "ws": "wsproto"}), ("socketio", {})]


def test_fanout_runs_both_modes_unless_told_otherwise():
    assert parse_args([]).fanout == "both"
    assert parse_args(["--fanout", "targeted"]).fanout == "targeted"
