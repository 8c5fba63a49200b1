"""The benchmark harness's pure helpers (the benchmark itself runs with `make bench`)."""

from __future__ import annotations

import json
import math

import pytest

from bench import fmt, readme, report, wrk
from bench.clients import poll_delay
from bench.config import QUICK, Config, from_env
from bench.figure_check import unbacked
from bench.profiling import summarize
from bench.results_io import LATEST, dumps, load
from bench.stats import flat_threshold, is_flat, paired, percentile, ratio, spread, tail_trend
from bench.targets import Target, evaluate, progress_target, scaling_target
from bench.webhooks_adapter import last_json_object


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 1.0, 4.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 10.0
    assert percentile(values, 90) == pytest.approx(7.6)  # numpy.percentile(values, 90)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_spread_and_ratio() -> None:
    s = spread([300.0, 100.0, 200.0, math.nan])
    assert (s.median, s.low, s.high) == (200.0, 100.0, 300.0)
    assert math.isnan(spread([]).median)
    assert ratio(10, 4) == 2.5
    assert math.isnan(ratio(1, 0)) and math.isnan(ratio(math.nan, 1))


def test_paired_compares_round_by_round() -> None:
    p = paired([100.0, 300.0, 200.0], [50.0, 100.0, 200.0])
    assert p["runs"] == [2.0, 3.0, 1.0]
    assert (p["median"], p["min"], p["max"]) == (2.0, 1.0, 3.0)
    assert p["of_medians"] == 2.0


def test_tail_trend_sees_a_leak_and_ignores_warm_up() -> None:
    xs = [float(i * 1000) for i in range(101)]
    # Warm-up growth in the first third, then flat around 60 MiB.
    flat = [60e6 + (30 - i) * 1e6 if i < 30 else 60e6 for i in range(101)]
    trend = tail_trend(xs, flat)
    assert abs(trend.slope_per_unit) < 1e-6 and is_flat(trend)
    # A 100-byte-per-submit leak: 6.7 MB over the last 2/3 of 100,000 submits.
    leaky = [60e6 + 100 * x for x in xs]
    trend = tail_trend(xs, leaky)
    assert trend.slope_per_unit == pytest.approx(100)
    assert not is_flat(trend)
    assert flat_threshold(trend) == pytest.approx(max(2**20, 0.01 * trend.start_value))


def test_wrk_script_and_parse() -> None:
    text = wrk.script("POST", '{"number": 1}')
    assert 'wrk.method = "POST"' in text and 'wrk.body = "{\\"number\\": 1}"' in text
    out = ('Running 1s test\n' + wrk.MARKER + '{"requests": 5000, "duration_us": 2000000, '
           '"bytes": 1, "errors": {"connect": 0, "read": 0, "write": 0, "status": 3, '
           '"timeout": 0}, "latency_us": {"50": 1500, "99": 9000}, "mean_us": 2000.0, '
           '"max_us": 12000}\n')
    result = wrk.parse(out)
    assert result.rps == 2500 and result.error_count == 3
    assert result.latency_ms == {"50": 1.5, "99": 9.0, "100": 12.0}
    with pytest.raises(RuntimeError):
        wrk.parse("no summary")
    keyed = wrk.script("GET", None, {"X-API-Key": "k-1"})
    assert 'wrk.headers["X-API-Key"] = "k-1"' in keyed and "Content-Type" not in keyed


def test_poll_backs_off_after_twenty_polls() -> None:
    assert [poll_delay(0.001, n) for n in (1, 20, 24)] == [0.001] * 3
    assert poll_delay(0.001, 25) == 0.002
    assert poll_delay(0.001, 1000) == 0.032


def test_config_from_env() -> None:
    assert from_env({}) == Config()
    assert from_env({"BENCH_QUICK": "1"}) == QUICK
    assert from_env({"BENCH_RUNS": "5", "BENCH_RATE": "100"}).runs == 5
    with pytest.raises(ValueError):
        from_env({"BENCH_RUNS": "0"})


def test_profile_summary() -> None:
    lines = ["main (a.py:1);handle (gateway/services/jobs.py:10);hgetall (redis/client.py:5) 30",
             "main (a.py:1);handle (gateway/services/jobs.py:10) 10",
             "main (a.py:1);wait (threading.py:1);Condition.wait (threading.py:2) 50"]
    profile = summarize(lines)
    assert profile.samples == 40  # the idle thread is left out
    assert profile.own[0] == ("hgetall (redis/client.py)", 75.0)
    assert ("handle (gateway/services/jobs.py)", 100.0) in profile.inclusive
    focused = summarize(lines, focus=("hgetall", "handle", "absent"))
    assert focused.focus == [("hgetall", 75.0), ("handle", 100.0), ("absent", 0.0)]


def test_webhooks_json_is_found_in_output() -> None:
    assert last_json_object('{"a": 1}') == {"a": 1}
    assert last_json_object('starting...\n{"deliveries_per_s": 900}\n') == {
        "deliveries_per_s": 900}
    assert last_json_object("no json here") is None


def _scenario(runs: list[float]) -> dict[str, object]:
    return {"rps": {**spread(runs).as_dict()}}


def test_targets_from_results() -> None:
    results = {
        "http": {"graphql": {"available": False, "reason": "no /graphql (404)"},
                 "scenarios": {
                     "hello_1p": _scenario([7000, 7000, 7000]),
                     "reference_submit_1p": _scenario([800, 1000, 900]),
                     "rest_submit_1p": _scenario([4500, 5000, 4000]),
                     "reference_poll_1p": _scenario([1500, 1500, 1500]),
                     "rest_poll_1p": _scenario([4000, 4000, 4000])}},
        "e2e": {"drain": {"ours_c1": {"jobs_per_s": {"median": 500.0}},
                          "bare_c1": {"jobs_per_s": {"median": 700.0}}},
                "latency": {"ours": {"observers": {"poll": {"p50_ms": {"median": 5.0}}}},
                            "bare": {"observers": {"poll": {"p50_ms": {"median": 3.0}}}}}},
    }
    targets = {t.key: t for t in evaluate(results)}
    assert targets["rest_vs_reference"].value == 5.0 and targets["rest_vs_reference"].held
    assert targets["rest_vs_reference"].paired == pytest.approx((4000 / 900, 4500 / 800))
    assert targets["rest_vs_hello"].held
    assert targets["graphql_vs_reference"].held is None
    assert "not available" in targets["graphql_vs_reference"].unavailable
    assert targets["poll_vs_reference"].held is False
    assert fmt.gap(targets["poll_vs_reference"]) == "2.67x of 5x needed"
    assert targets["graphql_job_vs_poll"].held is None  # GraphQL not available
    assert targets["e2e_c1"].held is False and targets["e2e_c2"].held is None
    assert targets["latency_p50"].value == 2.0 and targets["latency_p50"].held
    assert targets["redis_bytes"].held is None  # not measured
    assert targets["webhook_vs_bare"].held is None  # no webhook figures
    assert "not measured" in targets["webhook_vs_bare"].unavailable
    assert targets["progress_overhead"].held is None  # no progress figures
    # What results.json keeps: numbers, and a detail that formats them.
    kept = json.loads(dumps({"targets": [t.as_dict() for t in targets.values()]}))
    again = {d["key"]: Target.from_dict(d) for d in kept["targets"]}
    assert fmt.detail(again["rest_vs_reference"]) == \
        "4,500 vs 900 req/s (medians; ratio of medians 5.00x)"
    assert again["e2e_c1"].held is False and math.isnan(again["redis_bytes"].value)


def _cpu(busy: float, gateways: float) -> dict[str, object]:
    return {"cores": 2, "busy": busy, "rest": busy - gateways - 0.5,
            "roles": {"gateways": gateways, "redis": 0.3, "nginx": 0.2}}


@pytest.mark.parametrize("busy, named", [(1.96, True), (1.2, False)])
def test_scaling_below_its_target_names_full_cores(busy: float, named: bool) -> None:
    two = _scenario([5500, 5600, 5400])
    two["runs"] = [{"rps": r, "cpu": _cpu(busy, 1.2)} for r in (5500, 5600, 5400)]
    http = {"rest_submit_2p": two, "rest_submit_nginx_1p": _scenario([5000, 5000, 5000])}
    target = scaling_target(http, "rest_submit", "REST submit")
    assert target.held is False and target.value == pytest.approx(1.1)
    text = fmt.detail(target)
    assert f"{busy:.2f} of 2 busy (gateways 1.20, Redis 0.30, NGINX 0.20" in text
    assert ("CPU is the shared resource" in text) is named


def test_progress_target_is_the_median_of_the_rounds_ratios() -> None:
    progress = {"number": 50_000_000, "with_progress_s": spread([3.1, 3.3, 3.0]).as_dict(),
                "without_progress_s": spread([3.0, 3.0, 3.0]).as_dict(),
                "reports_written": spread([28, 30, 29]).as_dict(),
                "ratio": paired([3.1, 3.3, 3.0], [3.0, 3.0, 3.0])}
    target = progress_target(progress)
    assert target.value == pytest.approx(3.1 / 3.0) and target.held
    assert target.goal == "sum_to_n_job(50,000,000) with progress <= 1.05x the same loop " \
        "without"
    assert fmt.detail(target) == ("3.100 s vs 3.000 s (medians; ratio of medians 1.033x), "
                                  "29 reports written a run")
    slower = progress_target({**progress, "ratio": paired([3.3, 3.3, 3.3], [3.0, 3.0, 3.0])})
    assert slower.held is False and fmt.need(slower) == "<= 1.05x"


def test_figure_check_finds_a_typed_in_figure() -> None:
    results = {"meta": {"started": "2026-11-25 17:25:18", "python": "3.11.2"},
               "rps": {"median": 2409.4, "runs": [2312.0, 2845.2]},
               "rss_bytes": 85_000_000, "ratio": 0.5216,
               "profiles": {"own": [["send", 18.53]]},
               "latency": {"all_ms": [485.0, 4.0]}}
    fine = ("Run 2026-11-25 17:25:18 on Python 3.11.2: 2,409 req/s (2,312-2,845), "
            "0.52x (x0.52), 81.1 MiB, send 18.5%, p99 c2 `230f5a5`.")
    assert unbacked(fine, results) == []
    assert len(unbacked("485 jobs/s against 357", results)) == 2  # raw series don't count
    assert len(unbacked("2,410 req/s", results)) == 1  # 2,409.4 rounds to 2,409
    assert len(unbacked("18.5 req/s", results)) == 1  # a profile share only with a %
    assert len(unbacked("a 2,409%", results)) == 1  # and a % only among profile shares
    assert len(unbacked("81.1 ms", results)) == 1  # bytes only for a figure in MiB


def test_results_json_keeps_nan_as_null_and_number_lists_on_one_line() -> None:
    text = dumps({"a": [1.5, math.nan, 3], "b": {"c": [0.25, -2e-05]}, "d": "x"})
    assert '"a": [1.5, null, 3]' in text and '"c": [0.25, -2e-05]' in text
    assert json.loads(text) == {"a": [1.5, None, 3], "b": {"c": [0.25, -2e-05]}, "d": "x"}


def test_readme_block_is_rewritten_between_its_markers_only() -> None:
    begin, end = readme.BEGIN.format(name="t"), readme.END.format(name="t")
    text = f"before\n{begin}\nold\ntable\n{end}\nafter\n"
    assert readme.current(text, "t") == "old\ntable"
    new = readme.rewrite(text, "t", "| new |")
    assert new == f"before\n{begin}\n| new |\n{end}\nafter\n"
    assert readme.rewrite(new, "t", "| new |") == new
    with pytest.raises(ValueError, match="no block"):
        readme.rewrite("no markers", "t", "x")


def test_watching_rows_come_from_the_results() -> None:
    """The watching phase's rows (bench/watching.py) in the summary and the README's
    table: each figure from results.json, and none without the phase's data."""
    latest = load(LATEST / "results.json")
    latest.pop("watching", None)  # a run without the phase writes no rows
    assert report.watching_section(latest) == []

    def way(label: str, p50: float, cpu: float, requests: float) -> dict[str, object]:
        return {"label": label, "p50_ms": spread([p50, p50 + 1]).as_dict(),
                "p99_ms": spread([p50 * 4, p50 * 5]).as_dict(),
                "cpu_ms_per_job": spread([cpu]).as_dict(),
                "requests_per_job": spread([requests]).as_dict(), "not_seen": 0}

    results = json.loads(dumps({**latest, "watching": {
        "settings": {"jobs": 200, "idle_seconds": 2.0, "poll_seconds": 0.5,
                     "long_poll_wait": 30.0, "runs": 2},
        "ways": {"poll": way("polling every 0.5 s", 253.4, 1.81, 6.2),
                 "long_poll": way("long poll `?wait=30`", 2.37, 1.45, 1.0),
                 "sse": way("Server-Sent Events", 3.41, 2.2, 1.0)}}}))
    section = "\n".join(report.watching_section(results))
    assert "| polling every 0.5 s | 253.9 ms (253.4-254.4) |" in section
    assert "| Server-Sent Events | 3.9 ms (3.4-4.4) |" in section
    assert section in report.render(results)
    table = readme.performance(results)
    assert ("| job end to seen, 200 jobs watched at once: long poll `?wait=` / Server-Sent "
            "Events | p50 2.9 / 3.9 ms, p99 10.7 / 15.3 ms | polling every 0.5 s: p50 "
            "253.9 ms, p99 1,140.3 ms |") in table
    assert "| gateway CPU per watched job: long poll / Server-Sent Events | 1.45 / 2.20 ms" \
        in table
    assert unbacked(section, results) == [] and unbacked(table, results) == []
