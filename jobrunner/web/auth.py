"""Who is asking, and whether they may: password and token hashes, the signed login
cookie, the form token against cross-site request forgery, and the rights an action
needs from the config's `users:`. Pure but for the random salts, secrets and the clock
of cookie expiry (`now` is a parameter)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobrunner import permissions
from jobrunner.web import settings as web_settings

SESSION_COOKIE = "jobrunner_session"
CSRF_COOKIE = "jobrunner_csrf"
SESSION_SECONDS = 12 * 3600
_SCRYPT = (2**14, 8, 1)  # n, r, p: OWASP's minimum for scrypt
_AMBIENT = frozenset({"password", "session", "proxy"})  # a browser sends these unasked


@dataclass(frozen=True, kw_only=True, slots=True)
class Identity:
    """The user a request authenticated as (None: anonymous) and how: `token`,
    `password` (HTTP Basic), `session` (the login cookie) or `proxy` (the trusted
    header). `bad` is set when credentials were given and are wrong."""

    user: str | None = None
    via: str | None = None
    bad: bool = False

    @property
    def needs_csrf(self) -> bool:
        """Credentials a browser attaches by itself need the form token on a change."""
        return self.via in _AMBIENT


def hash_password(password: str, salt: bytes | None = None) -> str:
    n, r, p = _SCRYPT
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=2**26,
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, want)


def hash_token(token: str) -> str:
    """Tokens are long and random, so one SHA-256 is enough (unlike a password)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def token_user(tokens: Mapping[str, str], token: str) -> str | None:
    presented = hash_token(token)
    found = None
    for user, stored in tokens.items():  # every one compared: no timing of which matched
        if hmac.compare_digest(stored, presented):
            found = user
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    """HMAC-SHA256 over cookie values with a secret of this process (a restart of the
    web process logs everyone out)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def session(self, user: str, now: float) -> str:
        value = f"{int(now) + SESSION_SECONDS}:{_b64(user.encode())}"
        return f"{value}.{self.mac('session:' + value)}"

    def session_user(self, cookie: str, now: float) -> str | None:
        value, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self.mac("session:" + value)):
            return None
        expires, _, user = value.partition(":")
        if not expires.isdigit() or int(expires) < now:
            return None
        return base64.b64decode(user).decode()

    def csrf(self, cookie: str) -> str:
        """The form token for the browser holding this CSRF cookie (signed double
        submit: a page of another site can neither read the cookie nor make the MAC)."""
        return self.mac("csrf:" + cookie)

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf(cookie or ""), token or "")


def identify(
    cfg: web_settings.Settings,
    signer: Signer,
    *,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    client: str | None,
    now: float,
) -> Identity:
    """Who the request is: a bearer token, HTTP Basic, the trusted proxy's header (from
    a trusted address only), the login cookie; in that order."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        user = token_user(cfg.tokens, credentials.strip())
        return Identity(user=user, via="token") if user else Identity(bad=True)
    if scheme.lower() == "basic":
        return _basic(cfg, credentials.strip())
    if cfg.proxy_header and client in cfg.trusted_proxies:
        named = headers.get(cfg.proxy_header.lower(), "").strip()
        if named:
            return Identity(user=named, via="proxy")
    cookie = cookies.get(SESSION_COOKIE)
    if cookie:
        user = signer.session_user(cookie, now)
        if user is not None and user in cfg.passwords:
            return Identity(user=user, via="session")
    return Identity()


def _basic(cfg: web_settings.Settings, credentials: str) -> Identity:
    try:
        user, _, password = base64.b64decode(credentials).decode().partition(":")
    except (ValueError, binascii.Error):
        return Identity(bad=True)
    stored = cfg.passwords.get(user)
    if stored is None or not check_password(stored, password):
        return Identity(bad=True)
    return Identity(user=user, via="password")


def refusal(
    users: Mapping[str, Any] | None, user: str, *, object_id: int | str | None, ref: str = ""
) -> str | None:
    """None when `user` may act on an entry (or log entry) of `object_id`, or, with
    `object_id` None, cancel a task; else why not. Without a `users:` section in the
    config every authenticated user may act on everything, as everyone may run
    everything; with one, the user must be listed there and may steer what they may
    run (and cancel tasks when they may create them)."""
    if not users:
        return None
    if user not in users:
        return f"User {user!r} is not in the config's users: and may not change anything."
    if object_id is None:
        if permissions.may_create_tasks(users, user):
            return None
        return f"User {user!r} may not create or cancel tasks (users: create_tasks)."
    return permissions.run_refusal(users, user, object_id, ref)
