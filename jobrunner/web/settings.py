"""The web server's settings from the config's `web:` and the command line, and the
refusal to listen beyond the loopback with nobody to authenticate. Pure."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from jobrunner import config, errors

DEFAULT_LISTEN = "127.0.0.1:8750"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Where the server listens and whom it believes: password hashes and token hashes
    by user, and a reverse proxy's user header trusted from `trusted_proxies` only."""

    host: str
    port: int
    passwords: dict[str, str]
    tokens: dict[str, str]
    proxy_header: str | None
    trusted_proxies: frozenset[str]
    secure_cookies: bool
    users: dict[str, Any] | None  # the config's users: (what each may run)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def authenticates(self) -> bool:
        """Whether anyone can log in at all."""
        return bool(self.passwords or self.tokens or self.proxy_header)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8750` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.JobRunnerError(
            f"--listen: {text!r} is not HOST:PORT (examples: 127.0.0.1:8750, [::1]:8750)"
        )
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(cfg: config.Config, listen: str | None = None) -> Settings:
    """The settings of `cfg` (`listen` from the command line wins); refused when it
    would listen beyond the loopback with no way to authenticate."""
    web: dict[str, Any] = cfg.web or {}
    host, port = parse_listen(listen or web.get("listen") or DEFAULT_LISTEN)
    settings = Settings(
        host=host,
        port=port,
        passwords=dict(web.get("users") or {}),
        tokens=dict(web.get("tokens") or {}),
        proxy_header=web.get("proxy_user_header"),
        trusted_proxies=frozenset(web.get("trusted_proxies") or ("127.0.0.1", "::1")),
        secure_cookies=bool(web.get("secure_cookies", False)),
        users=cfg.users,
    )
    if not settings.loopback and not settings.authenticates:
        raise errors.JobRunnerError(
            f"refusing to listen on {host}:{port} without authentication: beyond the "
            "loopback the dashboard needs web.users (jobrunner web --hash-password), "
            "web.tokens (jobrunner web --hash-token) or web.proxy_user_header in "
            f"{cfg.path or 'the config'}; or listen on 127.0.0.1"
        )
    return settings
