"""The function catalog (tasks/jobs/catalog.py): what it lists, the bounds its settings give,
and function modules written against the old import path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.jobs.catalog import Catalog
from tasks.settings import Settings


def test_catalog_lists_both_functions() -> None:
    functions = Catalog(Settings(_env_file=None))
    assert set(functions) == {"wait_and_return", "sum_to_n_job"}
    assert functions["sum_to_n_job"].input_schema()["required"] == ["number"]


OLD_STYLE_MODULE = """
from pydantic import BaseModel
from tasks.catalog import job_function

class Nothing(BaseModel):
    pass

@job_function(input_model=Nothing, description="written against the old path")
def old_style() -> int:
    return 1
"""


def test_function_modules_on_the_old_import_path_still_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tasks.catalog is an alias of tasks.jobs.catalog for one release; a catalog holds the
    functions of its own settings' modules only."""
    (tmp_path / "old_style_functions.py").write_text(OLD_STYLE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(DeprecationWarning, match="tasks.jobs.catalog"):
        functions = Catalog(Settings(_env_file=None,
                                     extra_function_modules=["old_style_functions"]))
    assert set(functions) == {"wait_and_return", "sum_to_n_job", "old_style"}
    assert "old_style" not in Catalog(Settings(_env_file=None))


def test_catalog_bounds_come_from_the_settings_it_is_given() -> None:
    """Two catalogs in one process, each with its own settings: nothing read globally."""
    small = Catalog(Settings(_env_file=None, sum_max_number=10, wait_max_seconds=2))
    large = Catalog(Settings(_env_file=None))
    assert small["sum_to_n_job"].input_schema()["properties"]["number"]["maximum"] == 10
    assert large["sum_to_n_job"].input_schema()["properties"]["number"]["maximum"] == 50_000_000
    small["sum_to_n_job"].input_model.model_validate({"number": 10})
    with pytest.raises(ValidationError, match="less than or equal to 10"):
        small["sum_to_n_job"].input_model.model_validate({"number": 11})
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        small["wait_and_return"].input_model.model_validate({"seconds": 2.5})
    assert small["wait_and_return"].policy.hard_time_limit == 12.0  # WAIT_MAX_SECONDS + 10
