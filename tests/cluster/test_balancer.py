"""signalhub.dev.balancer without a running HAProxy: where the readiness path comes from,
and what the shipped configuration can front."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalhub.dev.balancer import CONFIG, Haproxy, readiness_path


def test_readiness_path_is_read_from_the_configs_http_check_line(tmp_path: Path):
    config = tmp_path / "haproxy.cfg"
    config.write_text("backend b\n    option httpchk\n    http-check send meth GET uri /readyz\n")
    assert readiness_path(config) == "/readyz"


def test_a_config_without_an_http_check_line_is_refused_with_its_name(tmp_path: Path):
    config = tmp_path / "haproxy.cfg"
    config.write_text("backend b\n    server a 127.0.0.1:1\n")
    with pytest.raises(ValueError, match="haproxy.cfg"):
        readiness_path(config)


def test_the_shipped_config_checks_a_path_of_the_api():
    assert readiness_path(CONFIG).startswith("/")


@pytest.mark.parametrize("count", [0, 4])
def test_the_shipped_config_fronts_one_to_three_instances(count: int, tmp_path: Path):
    with pytest.raises(ValueError, match="three"):
        Haproxy(1, 2, ["127.0.0.1:1"] * count, tmp_path / "log")
