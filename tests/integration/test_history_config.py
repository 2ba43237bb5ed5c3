"""The config's history keys, read from a real file."""

from __future__ import annotations

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
