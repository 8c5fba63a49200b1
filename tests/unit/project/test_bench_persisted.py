"""The persisted-query row's targets (bench/targets.py, issue 17): per-round ratios against
REST submit and the reference's submit, and why they are missing when they are."""

from __future__ import annotations

from typing import Any

from bench.stats import spread
from bench.targets import GRAPHQL_VS_REFERENCE, GRAPHQL_VS_REST, persisted_targets


def _scenario(runs: list[float]) -> dict[str, Any]:
    return {"rps": spread(runs).as_dict()}


def test_persisted_targets_are_per_round_ratios() -> None:
    http = {"graphql_persisted": {"available": True, "reason": "ok"}, "scenarios": {
        "graphql_persisted_submit_1p": _scenario([900.0, 1000.0, 1100.0]),
        "rest_submit_1p": _scenario([1000.0, 1000.0, 1000.0]),
        "reference_submit_1p": _scenario([100.0, 250.0, 200.0])}}
    rest, reference = persisted_targets(http)
    assert (rest.key, rest.value, rest.threshold) == ("persisted_vs_rest", 1.0,
                                                      GRAPHQL_VS_REST)
    assert rest.paired == (0.9, 1.1) and rest.held
    assert (reference.value, reference.threshold) == (5.5, GRAPHQL_VS_REFERENCE)
    assert reference.paired == (4.0, 9.0) and reference.held


def test_persisted_targets_say_why_they_are_missing() -> None:
    old_run = persisted_targets({"scenarios": {}})
    assert [t.unavailable for t in old_run] == ["not measured in this run"] * 2
    refused = persisted_targets({"graphql_persisted": {"available": False,
                                                       "reason": "by hash: 400"}})
    assert all(t.held is None and "by hash: 400" in t.unavailable for t in refused)
