"""Profile excerpts with py-spy (sampling, from outside the process): where a server spends
its CPU under load, for the summary's explanation of each figure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Frames that only wait (a thread pool idling, the event loop's poll).
_IDLE = re.compile(r"(Condition\.wait|Queue\.get|select |epoll|_run_once|Event\.wait)")


@dataclass
class Profile:
    samples: int
    own: list[tuple[str, float]] = field(default_factory=list)  # function, % of samples
    inclusive: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""
    # Inclusive % of samples of chosen functions (by name, any file), which the summary
    # quotes in its explanation of a figure.
    focus: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"samples": self.samples, "own": self.own, "inclusive": self.inclusive,
                "error": self.error, "focus": self.focus}

    def excerpt(self, top: int = 12) -> str:
        if self.error:
            return f"(no profile: {self.error})"
        lines = [f"{self.samples} samples (py-spy, only threads holding the GIL)",
                 "own time:"]
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in self.own[:top]]
        lines += ["inclusive (our code and the libraries it calls):"]
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in self.inclusive[:top]]
        return "\n".join(lines)


_PACKAGES = frozenset({"gateway", "tasks", "worker", "bench", "infra"})


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)".
    match = re.match(r"(.*?) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    func, path = match.groups()
    parts = Path(path).parts
    ours = [i for i, part in enumerate(parts) if part in _PACKAGES]
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    elif ours:
        parts = parts[ours[0]:]  # our modules by their path in the repository
    elif len(parts) > 2:
        parts = parts[-2:]
    return f"{func} ({'/'.join(parts)})"


# Inclusive time is listed for our code and the libraries it calls directly; the server
# and framework frames that wrap every request would only say "100%".
_INTERESTING = ("(gateway/", "(tasks/", "(worker/", "(redis/", "(kombu/", "(strawberry/",
                "(pydantic", "(billiard/", "trace.py")


def summarize(lines: Iterable[str], focus: tuple[str, ...] = ()) -> Profile:
    """Own and inclusive time per function from py-spy's raw (collapsed) output, and the
    inclusive time of the functions named in `focus` (`QoS.ack`, whatever their file)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    focused: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";")]
        if _IDLE.search(frames[-1]):
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            if any(key in name for key in _INTERESTING):
                inclusive[name] += count
        for func in {f.partition(" (")[0] for f in frames} & set(focus):
            focused[func] += count
    if not total:
        return Profile(0, error="no samples")

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(25)]

    return Profile(total, pct(own), pct(inclusive),
                   focus=[(name, 100 * focused[name] / total) for name in focus])


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(pid: int, seconds: float, subprocesses: bool = False,
           focus: tuple[str, ...] = ()) -> Profile:
    binary = py_spy()
    if binary is None:
        return Profile(0, error="py-spy is not installed (pip install -e '.[bench]')")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.txt"
        argv = [binary, "record", "-p", str(pid), "-d", f"{seconds:.0f}", "-r", "200",
                "-f", "raw", "-o", str(out), "--gil", "--nonblocking"]
        if subprocesses:
            argv.append("--subprocesses")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                              check=False)
        if not out.exists():
            return Profile(0, error=f"py-spy failed: {proc.stderr.strip()[-300:]}")
        return summarize(out.read_text().splitlines(), focus)
