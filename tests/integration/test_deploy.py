"""The systemd unit: the settings that matter, and `systemd-analyze verify` where present."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobrunner import config, schemas

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


def _as_installed(command: str, config_path: Path) -> list[str]:
    """A command line of the unit with this checkout's binary and a test config."""
    binary = Path(sys.executable).parent / "jobrunner"
    return shlex.split(
        command.replace("/opt/jobrunner/bin/jobrunner", str(binary)).replace(
            "/etc/jobrunner/jobrunner.yaml", str(config_path)
        )
    )


def _installation(tmp_path: Path) -> Path:
    """deploy/jobrunner.yaml with its folders moved under tmp_path."""
    (tmp_path / "jobs.d").mkdir()
    text = (ROOT / "deploy" / "jobrunner.yaml").read_text()
    text = text.replace("/etc/jobrunner/jobs.d", str(tmp_path / "jobs.d"))
    text = text.replace("/var/lib/jobrunner", str(tmp_path / "state"))
    path = tmp_path / "jobrunner.yaml"
    path.write_text(text + "timezone: UTC\n")
    return path


def test_a_rejected_job_file_does_not_keep_the_service_from_starting(tmp_path):
    config_path = _installation(tmp_path)
    (tmp_path / "jobs.d" / "good.yaml").write_text("object_id: 50140\n")
    (tmp_path / "jobs.d" / "bad.yaml").write_text("object_id: 50140\nstatus: paused\n")
    unit = settings()
    (pre,) = unit["ExecStartPre"]
    checked = subprocess.run(
        _as_installed(pre, config_path), capture_output=True, text=True, timeout=60
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    started = subprocess.run(
        [*_as_installed(unit["ExecStart"][0], config_path), "--until-idle"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    events = [json.loads(line) for line in started.stdout.splitlines()]
    assert [e["entry_id"] for e in events if e["event"] == "run_finished"] == ["good"]
    assert [e["file"] for e in events if e["event"] == "job_file_rejected"] == ["jobs.d/bad.yaml"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param("jobs_dir: missing.d\n", "jobs_dir: the jobs folder", id="no-jobs-folder"),
        pytest.param("workers: many\n", "workers:", id="bad-config"),
    ],
)
def test_the_start_check_refuses_what_the_runner_cannot_start_with(tmp_path, config, message):
    path = tmp_path / "jobrunner.yaml"
    path.write_text(config)
    (pre,) = settings()["ExecStartPre"]
    checked = subprocess.run(_as_installed(pre, path), capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1
    assert message in checked.stdout


def test_schema_path_is_the_folder_the_modelines_name(tmp_path):
    binary = Path(sys.executable).parent / "jobrunner"
    printed = subprocess.run(
        [str(binary), "schema", "--path"], capture_output=True, text=True, timeout=60
    )
    assert printed.returncode == 0, printed.stderr
    folder = Path(printed.stdout.strip())
    for name in schemas.NAMES:
        assert json.loads((folder / name).read_text()) == schemas.load(name)
    # the deployment steps, with /etc/jobrunner moved under tmp_path
    steps = _deployment_steps()
    link = next(line for line in steps if " ln -sfn " in line)
    assert link.endswith('"$(/opt/jobrunner/bin/jobrunner schema --path)" /etc/jobrunner/schemas')
    etc = tmp_path / "etc-jobrunner"
    (etc / "jobs.d").mkdir(parents=True)
    (etc / "schemas").symlink_to(folder)
    shutil.copy(ROOT / "deploy" / "jobrunner.yaml", etc / "jobrunner.yaml")
    shutil.copy(ROOT / "jobs.d" / "inbox-poll.yaml", etc / "jobs.d" / "inbox-poll.yaml")
    for document in (etc / "jobrunner.yaml", etc / "jobs.d" / "inbox-poll.yaml"):
        target = re.search(r"\$schema=(\S+)", document.read_text()).group(1)
        assert (document.parent / target).is_file(), (document, target)


def test_the_documentation_the_unit_names_is_installed():
    (doc,) = settings()["Documentation"]
    path = doc.removeprefix("file://")
    assert f"sudo install -D -m 0644 README.md {path}" in _deployment_steps()


def _deployment_steps() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deployment (systemd)", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].rstrip() for line in block.splitlines()]
