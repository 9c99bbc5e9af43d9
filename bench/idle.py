"""``hashmon run`` between jobs: its CPU and memory while it waits for the next one.

Starts ``hashmon -v run`` with the simulated source in a subprocess, waits for the
start-up collect pass to finish (its log line), samples ``/proc/<pid>/stat`` over the
next ``seconds`` and stops it with SIGTERM, as a service manager would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_idle(out: Path, seconds: float = 20.0, env: dict | None = None) -> tuple[float, float]:
    """Return (CPU %, RSS MB) of an idle ``hashmon run`` over ``seconds`` (Linux only).

    Raises RuntimeError when it does not start, or its first collect never ends.
    """
    work = out / "idle"
    work.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work / 'run.db'}{suffix}").unlink(missing_ok=True)
    config = work / "run.toml"
    config.write_text(
        '[source]\nkind = "simulated"\n\n'
        f'[database]\nurl = "sqlite:///{work / "run.db"}"\n\n'
        f'[reports]\nout_dir = "{work / "reports"}"\n'
    )
    log = work / "run.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [BIN / "hashmon", "--config", config, "-v", "run"],
            cwd=work,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while b"collect: " not in log.read_bytes():  # the start-up pass has finished
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hashmon run did not start a pass; see {log}")
            time.sleep(0.2)
        time.sleep(1.0)  # let the scheduler settle into its wait
        hz = os.sysconf("SC_CLK_TCK")
        before, started = _cpu_ticks(proc.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _cpu_ticks(proc.pid) - before, time.monotonic() - started
        rss = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 100.0 * used / hz / elapsed, rss
