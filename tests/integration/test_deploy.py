"""The systemd unit: the settings that matter, and `systemd-analyze verify` where present."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobrunner import config

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "jobrunner.service"


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_has_the_service_settings():
    unit = settings()
    assert unit["Type"] == ["notify"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["WatchdogSec"] == ["60s"]
    assert unit["StateDirectory"] == ["jobrunner"]
    assert unit["ConfigurationDirectory"] == ["jobrunner"]
    assert unit["KillMode"] == ["mixed"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["ExecStart"][0].endswith("--config /etc/jobrunner/jobrunner.yaml run")
    for hardening in (
        "NoNewPrivileges",
        "ProtectSystem",
        "PrivateTmp",
        "ProtectKernelModules",
        "RestrictSUIDSGID",
        "LockPersonality",
    ):
        assert hardening in unit


def test_example_config_is_valid():
    cfg = config.load(ROOT / "deploy" / "jobrunner.yaml")
    assert cfg.state_dir == Path("/var/lib/jobrunner")
    assert cfg.jobs_dir == Path("/etc/jobrunner/jobs.d")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verify(tmp_path):
    binary = Path(sys.executable).parent / "jobrunner"
    assert binary.exists()
    unit = tmp_path / "jobrunner.service"
    unit.write_text(UNIT.read_text().replace("/opt/jobrunner/bin/jobrunner", str(binary)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert (result.returncode, problems) == (0, [])
