"""What the benchmark scripts share besides percentiles: a marked section of BENCHMARKS.md, and a
process stopped the way an operator would."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def replace_section(path: Path, start: str, end: str, text: str) -> None:
    """Puts `text` (which begins with `start` and ends with `end`) in place of that marked section of
    the file, or appends it when the file has none."""
    current = path.read_text() if path.exists() else ""
    if start in current and end in current:
        before, _, rest = current.partition(start)
        after = rest.partition(end)[2].lstrip("\n")
        path.write_text(before + text + ("\n" + after if after else ""))
    else:
        head = current.rstrip("\n")
        path.write_text((head + "\n\n" if head else "") + text)


def terminate(proc: subprocess.Popen[bytes] | subprocess.Popen[str], wait: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after `wait` seconds; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)
