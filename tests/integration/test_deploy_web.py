"""deploy/jobrunner-web.service: a valid unit that starts `jobrunner web` on the config
the runner's unit uses, with no capability."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "jobrunner-web.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_web_unit_serves_the_runners_config_without_capabilities():
    service = _service()
    assert service["ExecStart"] == (
        "/opt/jobrunner/bin/jobrunner --config /etc/jobrunner/jobrunner.yaml web"
    )
    assert service["CapabilityBoundingSet"] == ""
    assert service["ReadWritePaths"] == "/var/lib/jobrunner"
    assert service["NoNewPrivileges"] == "yes"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_web_unit_verifies(tmp_path):
    binary = Path(sys.executable).parent / "jobrunner"
    unit = tmp_path / "jobrunner-web.service"
    unit.write_text(UNIT.read_text().replace("/opt/jobrunner/bin/jobrunner", str(binary)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert (result.returncode, problems) == (0, [])
