"""The task socket: the runner learns each sender's uid from the kernel."""

from __future__ import annotations

import json
import os
import pwd
import select
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from jobrunner import taskgate


def _serve(sock, seen: list[int], stop: threading.Event) -> None:
    def handle(uid: int, request: dict) -> dict:
        seen.append(uid)
        return {"id": f"for-{uid}", "asked": request}

    while not stop.is_set():
        if select.select([sock], [], [], 0.05)[0]:
            taskgate.serve(sock, handle)


def _ask_as(uid: int, state_dir) -> dict:
    """taskgate.request from a forked child that became `uid` (LOGNAME says root)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(r)
            os.environ["LOGNAME"] = "root"
            os.setgid(pwd.getpwuid(uid).pw_gid)
            os.setuid(uid)
            answer = taskgate.request(state_dir, {"object": "a:b"}, timeout=5)
            os.write(w, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="becomes another account")
def test_the_runner_learns_who_sent_a_request_from_the_kernel():
    state = Path(tempfile.mkdtemp(prefix="jobrunner-gate-", dir="/tmp"))  # others reach it
    state.chmod(0o711)
    sock = taskgate.bind(state)
    seen: list[int] = []
    stop = threading.Event()
    server = threading.Thread(target=_serve, args=(sock, seen, stop))
    server.start()
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
        assert _ask_as(nobody, state) == {"id": f"for-{nobody}", "asked": {"object": "a:b"}}
        assert _ask_as(0, state) == {"id": "for-0", "asked": {"object": "a:b"}}
    finally:
        stop.set()
        server.join()
        sock.close()
        shutil.rmtree(state)
    assert seen == [nobody, 0]


def test_no_runner_is_a_clear_error(tmp_path):
    with pytest.raises(taskgate.NoRunner, match="no runner is running on"):
        taskgate.request(tmp_path, {"object": "a:b"}, timeout=1)
