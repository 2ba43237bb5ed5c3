"""The web server's pure parts: settings and the loopback rule, hashes, the signed
cookies, who a request is, the rights an action needs, the lock table, the tallies."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobrunner import config, errors, model
from jobrunner.store.memory import MemoryStore
from jobrunner.web import auth, metrics, source
from jobrunner.web import settings as web_settings

SALT = b"0123456789abcdef"


def cfg(web: dict | None = None, users: dict | None = None) -> config.Config:
    return config.Config(
        path=None,
        base=Path("/x"),
        jobs_dir=Path("/x/jobs.d"),
        state_dir=Path("/x/.jobrunner"),
        timezone="UTC",
        web=web,
        users=users,
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("127.0.0.1", True, id="v4"),
        pytest.param("127.8.9.1", True, id="v4-range"),
        pytest.param("::1", True, id="v6"),
        pytest.param("localhost", True, id="name"),
        pytest.param("0.0.0.0", False, id="any"),
        pytest.param("::", False, id="any-v6"),
        pytest.param("192.0.2.7", False, id="address"),
        pytest.param("dashboard.example", False, id="other-name"),
    ],
)
def test_web_loopback(host, loopback):
    assert web_settings.is_loopback(host) is loopback


def test_web_listen_parsing():
    assert web_settings.parse_listen("[::1]:8750") == ("::1", 8750)
    assert web_settings.parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    for bad in ("8750", ":8750", "host:", "host:0", "host:70000", "host:x"):
        with pytest.raises(errors.JobRunnerError, match="is not HOST:PORT"):
            web_settings.parse_listen(bad)


def test_web_settings_refuse_beyond_the_loopback_without_authentication():
    with pytest.raises(errors.JobRunnerError, match=r"refusing to listen on 0\.0\.0\.0:8750"):
        web_settings.load(cfg(), "0.0.0.0:8750")
    assert web_settings.load(cfg()).port == 8750
    tokens = {"tokens": {"ops": auth.hash_token("t" * 20)}, "listen": "0.0.0.0:9000"}
    assert web_settings.load(cfg(tokens)).host == "0.0.0.0"
    proxied = web_settings.load(cfg({"proxy_user_header": "X-User"}), "[::]:9000")
    assert proxied.trusted_proxies == frozenset({"127.0.0.1", "::1"})


def test_web_password_hash():
    stored = auth.hash_password("correct horse", SALT)
    assert stored.startswith("scrypt$16384$8$1$")
    assert auth.check_password(stored, "correct horse")
    assert not auth.check_password(stored, "correct hors")
    assert not auth.check_password("scrypt$broken", "correct horse")
    assert auth.hash_password("correct horse") != auth.hash_password("correct horse")


def test_web_token_hash():
    tokens = {"ops": auth.hash_token("a" * 32), "ci": auth.hash_token("b" * 32)}
    assert auth.token_user(tokens, "b" * 32) == "ci"
    assert auth.token_user(tokens, "c" * 32) is None


def test_web_session_cookie_is_signed_and_expires():
    signer = auth.Signer(b"k" * 32)
    cookie = signer.session("alice", now=1000.0)
    assert signer.session_user(cookie, now=1000.0 + auth.SESSION_SECONDS - 1) == "alice"
    assert signer.session_user(cookie, now=1000.0 + auth.SESSION_SECONDS + 1) is None
    forged = cookie.replace(base64.b64encode(b"alice").decode(), base64.b64encode(b"bob").decode())
    assert signer.session_user(forged, now=1000.0) is None
    assert auth.Signer(b"o" * 32).session_user(cookie, now=1000.0) is None


def test_web_csrf_token_is_bound_to_the_cookie():
    signer = auth.Signer(b"k" * 32)
    assert signer.csrf_ok("cookie-1", signer.csrf("cookie-1"))
    assert not signer.csrf_ok("cookie-2", signer.csrf("cookie-1"))
    assert not signer.csrf_ok(None, signer.csrf("cookie-1"))
    assert not signer.csrf_ok("cookie-1", None)


def identify(settings, headers=None, cookies=None, client="127.0.0.1"):
    return auth.identify(
        settings,
        auth.Signer(b"k" * 32),
        headers=headers or {},
        cookies=cookies or {},
        client=client,
        now=1000.0,
    )


def test_web_identify():
    settings = web_settings.load(
        cfg(
            {
                "users": {"alice": auth.hash_password("pw-alice-1", SALT)},
                "tokens": {"ops": auth.hash_token("t" * 20)},
                "proxy_user_header": "X-Remote-User",
            }
        )
    )
    basic = "Basic " + base64.b64encode(b"alice:pw-alice-1").decode()
    assert identify(settings, {"authorization": "Bearer " + "t" * 20}).user == "ops"
    assert identify(settings, {"authorization": "Bearer nope"}).bad
    assert identify(settings, {"authorization": basic}) == auth.Identity(
        user="alice", via="password"
    )
    assert identify(settings, {"authorization": "Basic !!"}).bad
    assert identify(settings, {"x-remote-user": "eve"}).via == "proxy"
    assert identify(settings, {"x-remote-user": "eve"}, client="192.0.2.9").user is None
    cookie = auth.Signer(b"k" * 32).session("alice", 1000.0)
    assert identify(settings, cookies={auth.SESSION_COOKIE: cookie}).via == "session"
    assert identify(settings) == auth.Identity()
    assert not auth.Identity(user="ops", via="token").needs_csrf
    assert auth.Identity(user="eve", via="proxy").needs_csrf


def test_web_rights():
    users = {"alice": {"objects": [50110, "acme.*"]}, "bob": {"create_tasks": True}}
    assert auth.refusal(None, "anyone", object_id=50100) is None
    assert auth.refusal(users, "alice", object_id=50110) is None
    assert auth.refusal(users, "alice", object_id="acme.jobs:x", ref="acme.jobs:x") is None
    assert auth.refusal(users, "alice", object_id=50100) == (
        "User 'alice' has no permission to run codeunit 50100."
    )
    assert "is not in the config's users:" in auth.refusal(users, "mallory", object_id=50110)
    assert auth.refusal(users, "bob", object_id=None) is None
    assert "may not create or cancel tasks" in auth.refusal(users, "alice", object_id=None)


LOCKS = """\
1: POSIX  ADVISORY  READ 4242 fe:00:99 128 128
2: FLOCK  ADVISORY  WRITE 5151 fe:00:2147918 0 EOF
2: -> FLOCK  ADVISORY  WRITE 6161 fe:00:2147918 0 EOF
3: FLOCK  ADVISORY  WRITE 7171 08:01:2147918 0 EOF
"""


def test_web_runner_lock_holder():
    assert source.holder(LOCKS, 254, 0, 2147918) == 5151
    assert source.holder(LOCKS, 8, 1, 2147918) == 7171
    assert source.holder(LOCKS, 254, 0, 99) is None
    assert source.holder("", 254, 0, 2147918) is None


AT = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _log(entry_id: str, start: datetime, **fields) -> model.LogEntry:
    return model.LogEntry(entry_id=entry_id, start_at=start, user="u", **fields)


def test_web_tally_counts_each_run_once_as_it_ends():
    db = MemoryStore()
    ok = model.LogStatus.SUCCESS
    done = _log("a", AT, status=ok, end_at=AT + timedelta(seconds=2))
    (no_running,) = db.commit(model.Transition(reason="t", log_insert=(_log("b", AT),)))
    db.commit(model.Transition(reason="t", log_insert=(done,)))
    tally = metrics.Tally()
    tally.update(db)
    assert tally.runs == {("a", "success"): 1}
    assert tally.open == {no_running}
    assert tally.within[metrics.BUCKETS.index(1.0)] == 0  # took 2 s: within 5 s, not 1 s
    assert tally.within[metrics.BUCKETS.index(5.0)] == 1
    ended = db.get_log(no_running)
    failed = model.LogStatus.ERROR
    closed = dataclasses.replace(ended, status=failed, end_at=AT + timedelta(hours=2))
    db.commit(model.Transition(reason="t", log_update=(closed,)))
    tally.update(db)
    tally.update(db)
    assert tally.runs == {("a", "success"): 1, ("b", "error"): 1}
    assert tally.open == set()
    assert tally.count == 2
    assert tally.last_success == {"a": (AT + timedelta(seconds=2)).timestamp()}
