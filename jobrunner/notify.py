"""systemd's notify protocol (sd_notify), written against the documented NOTIFY_SOCKET
datagram protocol: READY=1, STOPPING=1, STATUS=..., WATCHDOG=1."""

from __future__ import annotations

import os
import socket
from datetime import timedelta


class Notifier:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog = timedelta(microseconds=int(usec) / 2) if usec.isdigit() and mine else None

    def send(self, *lines: str) -> bool:
        """Send one datagram; False when there is no socket to send to."""
        if not self.address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto("\n".join(lines).encode(), self.address)
            except OSError:
                return False
        return True
