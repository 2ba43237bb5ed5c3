"""The APScheduler peer, run on the interpreter that runs jobrunner in the same run.

Its environment is made on first use in bench/.venv-peer/<interpreter>/, one for each
interpreter (its implementation, version and installation), so a run under another
Python never measures APScheduler on the Python of an earlier run; the peer script
also reports the version it ran on, and a mismatch is refused.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / ".venv-peer"
PACKAGES = ["apscheduler>=3.10,<4", "sqlalchemy>=2"]


def interpreter_key() -> str:
    """One folder name per interpreter: implementation + version + where it lives."""
    where = hashlib.sha256(sys.base_prefix.encode()).hexdigest()[:8]
    return f"{sys.implementation.name}-{platform.python_version()}-{where}"


def peer_python() -> Path | None:
    """This interpreter's peer environment's python, made when it is missing."""
    env = PEERS / interpreter_key()
    python = env / "bin" / "python"
    ready = env / ".installed"
    if ready.exists() and python.exists():
        return python
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=False)
    if made.returncode != 0:
        return None
    pip = [str(python), "-m", "pip", "install", "-q", *PACKAGES]
    if subprocess.run(pip, check=False).returncode != 0:
        return None
    ready.write_text(sys.version + "\n")
    return python


def throughput(kind: str, count: int, executor: str = "process") -> float | None:
    """APScheduler's completions per second of `count` no-op jobs due at once, with its
    `kind` store (memory, sqlite) and `executor` (process: a pool of 2; thread: its
    default pool of 10 threads); None when it could not run."""
    python = peer_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run(
            [
                str(python),
                str(ROOT / "bench" / "peer_apscheduler.py"),
                kind,
                str(count),
                str(Path(folder) / "aps.sqlite"),
                executor,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    if proc.returncode != 0:
        return None
    rate, version = proc.stdout.split()
    if version != platform.python_version():
        raise RuntimeError(f"the peer ran on Python {version}, jobrunner on {sys.version}")
    return float(rate)
