"""Where and on what code a benchmark ran: every results file starts with this, and the
parts that keep their last run write it here (``write_last``)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """Where and on what code a figure was measured (the load says what else ran)."""
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "commit": commit(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def commit() -> str:
    """HEAD's short hash, with "+changes" when the code differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # Results written by the parts before this one are not changes to the measured code.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")
    return head + ("+changes" if changed else "")


def finished(started: dict[str, Any]) -> dict[str, Any]:
    """``started`` with the load at the end: what else ran meanwhile shows in it."""
    return {**started, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


def write_last(
    out: Path, name: str, started: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    """``out/<name>.json``: the last run, with the machine it ran on; printed, returned."""
    result = {**finished(started), **result}
    if "profile" in result:
        result["command"] += " --profile"
    out.mkdir(parents=True, exist_ok=True)
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    (out / f"{name}.json").write_text(text + "\n")
    print(f"{name}: {text}")
    return result
