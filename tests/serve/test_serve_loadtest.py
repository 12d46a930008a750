"""``advisor loadtest``: open-loop arrivals, percentiles and achieved QPS per rate, the saturation point, JSON and a
plot, against a real ``advisor serve``; and it refuses any host but this machine."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from advisor.cli import cli
from advisor.serving.loadgen import RateResult, arrival_times, saturation

from .conftest import WORDLLAMA, require_serve_deps, running_server

require_serve_deps()


def test_loadtest_refuses_a_host_that_is_not_this_machine():
    result = CliRunner().invoke(cli, ["loadtest", "http://10.1.2.3:8080", "--rates", "1"])
    assert result.exit_code == 2
    assert "loadtest only targets this machine" in result.output and "Traceback" not in result.output


def test_arrivals_are_seeded_poisson_bounded_by_count_and_duration():
    times = arrival_times(50.0, 1000, 2.0, seed=1)
    assert times[0] == 0 and np.all(np.diff(times) >= 0) and times[-1] < 2.0
    assert 60 < len(times) < 140  # about 50/s for 2 s
    assert np.array_equal(times, arrival_times(50.0, 1000, 2.0, seed=1))
    assert len(arrival_times(50.0, 10, 2.0, seed=1)) == 10


def _rate(target, achieved, p95, rejected=0):
    return RateResult(target, 100, 100 - rejected, rejected, 0, 0, 1.0, achieved, p95 / 2, p95, p95, 0.0)


def test_a_sparse_poisson_draw_does_not_count_against_the_server():
    """A draw at target 10/s that happened to schedule 8.6/s, all served: sustained; one served well below what
    its schedule offered is not."""
    served = RateResult(10, 130, 130, 0, 0, 0, 15.1, 8.6, 20.0, 40.0, 45.0, 0.0, offered_qps=8.6)
    behind = RateResult(20, 300, 300, 0, 0, 0, 25.0, 12.0, 30.0, 60.0, 70.0, 0.0, offered_qps=20.1)
    assert saturation([served]) == (10, None)
    assert saturation([served, behind]) == (10, 20)


def test_saturation_is_the_last_rate_the_server_kept_up_with():
    rates = [_rate(10, 10, 5), _rate(20, 19.5, 6), _rate(40, 25, 90)]
    assert saturation(rates) == (20, 40)
    assert saturation([_rate(10, 10, 5), _rate(20, 20, 5, rejected=10)]) == (10, 20)
    assert saturation(rates[:2]) == (20, None)


def test_loadtest_against_a_real_server_reports_each_rate_and_plots(tmp_path):
    plot = tmp_path / "latency.png"
    with running_server("--model", WORDLLAMA) as srv:
        result = CliRunner().invoke(cli, ["loadtest", srv.url, "--rates", "10,40", "--requests", "30",
                                          "--duration", "2", "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["target_qps"] for r in data["rates"]] == [10, 40]
    for r in data["rates"]:
        assert r["ok"] == r["sent"] > 0 and r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["achieved_qps"] > 0
    assert "saturation_qps" in data and data["rule"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rate_past_saturation_is_a_saturation_probe_in_the_json_never_a_latency():
    """The first rate not kept up with, and every rate above it, keep their percentiles only under
    ``saturation_probe``; the rates kept up with keep theirs as latencies."""
    from advisor.serving.loadgen import LoadTestResult

    rates = [_rate(10, 10, 5), _rate(20, 19.5, 6), _rate(40, 25, 90), _rate(80, 79, 6)]
    sustained, saturated = saturation(rates)
    data = LoadTestResult("http://127.0.0.1:1", "openai", rates, sustained, saturated, "rule").to_dict()
    assert [row["kept_up"] for row in data["rates"]] == [True, True, False, False]
    for row in data["rates"]:
        assert ("p95_ms" in row) == row["kept_up"] == ("saturation_probe" not in row)
    assert data["rates"][2]["saturation_probe"]["p95_ms"] == 90 and "not a latency" in \
        data["rates"][2]["saturation_probe"]["what"]


def test_the_loadtest_table_names_a_rate_it_did_not_keep_up_with_a_saturation_probe():
    """A rate no Python server on this machine answers (100,000 requests/s, 40 requests at once) is past
    saturation: its row says so; the low rate's row does not."""
    with running_server("--model", WORDLLAMA) as srv:
        result = CliRunner().invoke(cli, ["loadtest", srv.url, "--rates", "5,100000", "--requests", "40",
                                          "--duration", "10"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()[:1].isdigit()}
    assert "saturation probe (not kept up: not a latency)" in rows["100,000"]
    assert "saturation probe" not in rows["5"]
