"""results.json: every figure of one run, written once and read by everything that prints
a figure (summary.md, the charts, the README's generated tables)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LATEST = ROOT / "bench" / "latest"

# A list of numbers on one line: the raw series (latencies, samples) stay readable in a
# diff and the file stays small.
_NUMBER = r"(?:-?[\d.eE+-]+|null)"
_NUMBER_LIST = re.compile(rf"\[\s*({_NUMBER}(?:,\s*{_NUMBER})*)\s*\]")


def json_safe(value: Any) -> Any:
    """NaN and infinity (a figure that could not be measured) become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def dumps(results: dict[str, Any]) -> str:
    text = json.dumps(json_safe(results), indent=1, ensure_ascii=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",")
                            + "]", text) + "\n"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
