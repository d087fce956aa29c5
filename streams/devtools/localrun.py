"""Starting newsstream processes in the background: for the demo, tests and benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from streams.errors import StackError


def start(
    args: Sequence[str], *, env: Mapping[str, str], log: Path, ready: bytes, timeout: float = 180
) -> subprocess.Popen[bytes]:
    """Run ``python -m streams.cli ARGS`` and wait until its log shows ``ready``."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while ready not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = log.read_text(errors="replace")[-3000:]
            raise StackError(f"`newsstream {' '.join(args)}` did not start; log {log}:\n{tail}")
        time.sleep(0.3)
    return process


def stop(process: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
