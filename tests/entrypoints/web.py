"""A job for the dashboard's tests: it prints markup and fails with markup in its error,
which the pages must show as text."""

from __future__ import annotations


def shout(ctx) -> None:
    print("<script>document.title='pwned'</script><b>loud output</b>")
    raise RuntimeError(f"<img src=x onerror=alert(1)> failed with {ctx.parameter}")
