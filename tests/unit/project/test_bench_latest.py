"""Every figure the project prints about its speed comes from bench/latest/results.json:
the summary is what bench/report.py makes of it, the README's and docs/SCALING.md's
tables are what bench/readme.py makes of it, and every number in them is found in it.

A full `make bench` refreshes bench/latest and the tables together. After a change of
wording in bench/report.py or bench/readme.py (no new figures), `python -m bench.report
bench/latest` and `python -m bench.readme` write them again without a benchmark run."""

from __future__ import annotations

from typing import Any

import pytest

from bench import readme, report
from bench.figure_check import unbacked
from bench.results_io import LATEST, load


@pytest.fixture(scope="module")
def latest() -> dict[str, Any]:
    path = LATEST / "results.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: a full `make bench` writes it")
    return load(path)


def test_summary_is_rendered_from_the_results(latest: dict[str, Any]) -> None:
    assert (LATEST / "summary.md").read_text() == report.render(latest), \
        "bench/latest/summary.md is not what its results.json makes: " \
        "run `python -m bench.report bench/latest`"


def test_every_figure_of_the_summary_is_in_the_results(latest: dict[str, Any]) -> None:
    assert unbacked((LATEST / "summary.md").read_text(), latest) == []


def test_readme_and_scaling_tables_are_generated_from_the_results(
        latest: dict[str, Any]) -> None:
    assert readme.stale(latest) == [], "run `python -m bench.readme`"


def test_every_figure_of_the_tables_is_in_the_results(latest: dict[str, Any]) -> None:
    for path, blocks in readme.generated(latest).items():
        for name, content in blocks.items():
            assert unbacked(content, latest) == [], f"{path}: {name}"
