"""Benchmarks: jobrunner against the machine's floors and against APScheduler, side by
side in one run. `python -m bench [--quick] [--json FILE]`."""
