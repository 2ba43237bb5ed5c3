"""The state folder is private: what the runner keeps (parameter strings, output, errors,
its lock) is for its own account only, whatever the umask.

Everything in it is created with mode 0700 (folders) or 0600 (files) and set so
explicitly (a umask cannot widen it); a runner refuses to start on a folder another
account owns or that group or others may write, and tightens what it owns that is
readable by others (`secure`, which says what it changed). The state folder itself is
0711: others may reach the task socket in it by name (`taskgate`), nothing else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jobrunner import errors

DIR_MODE = 0o700
STATE_DIR_MODE = 0o711  # reachable by name (the task socket), not listable
FILE_MODE = 0o600


class StateDirRefused(errors.JobRunnerError, PermissionError):
    """The state folder is not private to the runner's account."""


def make_dir(path: Path) -> None:
    """Create `path` (and missing parents of the state folder) with mode 0700."""
    if path.is_dir():
        return
    if not path.parent.exists():
        make_dir(path.parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)  # the umask may have taken bits away, never added: exact


def open_file(path: Path, flags: int) -> int:
    """os.open of a state file, created with mode 0600 (exactly, whatever the umask)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~0o077)
    return fd


def create_file(path: Path) -> None:
    """Create the state file `path` with mode 0600 unless it exists."""
    os.close(open_file(path, os.O_RDONLY))


def secure(state_dir: Path) -> list[tuple[str, str, str]]:
    """Check the state folder at a runner's start: StateDirRefused when another account
    owns it or group or others may write it; what this account owns in it that others
    may read is tightened. Returns (path, old mode, new mode) of each tightened one."""
    make_dir(state_dir)
    info = os.stat(state_dir)  # a symlink to it is fine: what counts is the folder
    me = os.geteuid()
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirRefused(f"the state folder {state_dir} is not a folder")
    if info.st_uid != me:
        raise StateDirRefused(
            f"the state folder {state_dir} is owned by {_name(info.st_uid)}, not by "
            f"{_name(me)} that runs the runner: chown it, or use a state_dir of its own"
        )
    if info.st_mode & 0o022:
        raise StateDirRefused(
            f"the state folder {state_dir} is writable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): anyone there could replace its files; "
            f"check what is in it, then chmod 0700 {state_dir}"
        )
    changed = []
    for path in _walk(state_dir):
        try:
            found = os.lstat(path)
        except OSError:
            continue
        mode = stat.S_IMODE(found.st_mode)
        if found.st_uid != me or not mode & 0o077 or not _tightened(found.st_mode):
            continue
        tight = DIR_MODE if stat.S_ISDIR(found.st_mode) else mode & ~0o077
        if path == state_dir:
            tight = STATE_DIR_MODE
            if not mode & 0o066:  # 0700 or 0711: private already
                continue
        os.chmod(path, tight)
        changed.append((str(path), f"{mode:04o}", f"{tight:04o}"))
    os.chmod(state_dir, STATE_DIR_MODE)
    return changed


def _tightened(mode: int) -> bool:
    # a symlink has no mode of its own; the wake socket is bound anew at each start
    return stat.S_ISDIR(mode) or stat.S_ISREG(mode)


def _walk(state_dir: Path) -> list[Path]:
    out = [state_dir]
    for folder, dirs, files in os.walk(state_dir):
        out += [Path(folder, name) for name in dirs + files]
    return out


def _name(uid: int) -> str:
    import pwd

    try:
        return repr(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return f"uid {uid}"
