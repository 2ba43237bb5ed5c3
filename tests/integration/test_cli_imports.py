"""What a command costs before it does anything: the command line loads no driver of a
store it does not use (psycopg alone takes about 100 ms to import here), and the logs no
library that structlog would import only because it is installed (rich: 150 ms, 5 MiB)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from tests.conftest import ROOT


def _printed(code: str) -> str:
    """What `code` prints in a fresh interpreter (this checkout's package)."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_command_line_imports_no_postgresql_driver():
    code = "import sys, jobrunner.cli; print(sorted(m for m in sys.modules if 'psycopg' in m))"
    assert _printed(code) == "[]\n"


def test_the_logs_import_no_rich_traceback_library_even_where_it_is_installed():
    assert importlib.util.find_spec("rich") is not None  # (the test extra brings it)
    code = "import sys, jobrunner.telemetry; print('rich' in sys.modules)"
    assert _printed(code) == "False\n"


def test_the_runners_asyncio_loads_no_tls_and_ssl_imports_as_usual_after():
    code = (
        "import sys; from jobrunner import imports; imports.asyncio_without_tls(); "
        "import jobrunner.telemetry; print('ssl' in sys.modules, 'asyncio' in sys.modules); "
        "import ssl; print(ssl.OPENSSL_VERSION.split()[0])"
    )
    assert _printed(code) == "False True\nOpenSSL\n"
