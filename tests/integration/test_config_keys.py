"""The config's history keys and the workers' default, read from a real file."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from jobrunner import config, errors, model

DAY = timedelta(days=1)


def test_config_history(tmp_path):
    path = tmp_path / "jobrunner.yaml"
    path.write_text("history:\n  keep_failed: 50\n  failed_retention: 90d\n")
    assert config.load(path).history == model.History(keep_failed=50, failed_retention=90 * DAY)
    path.write_text("history:\n  failed_retention: 5 days\n")
    with pytest.raises(errors.ConfigError) as caught:
        config.load(path)
    assert caught.value.problems[0].path == "history.failed_retention"


def test_workers_default_to_one_per_core_and_four_in_pool_mode(tmp_path):
    path = tmp_path / "jobrunner.yaml"
    path.write_text("timezone: UTC\n")
    cores = os.cpu_count() or 1
    assert config.load(path).workers == cores
    path.write_text("session_mode: pool\n")
    assert config.load(path).workers == 4 * cores
    path.write_text("session_mode: pool\nworkers: 3\n")
    assert config.load(path).workers == 3
    assert config.default_workers("fork", 6) == 6
    assert config.default_workers("pool", 6) == 24
