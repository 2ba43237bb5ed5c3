"""The web dashboard, JSON API and Prometheus metrics (`jobrunner web`): a process of its
own beside the runner, reading the same store and changing it only as the CLI does.

Needs the `web` extra (Starlette, uvicorn, Jinja2, prometheus_client); nothing else in
jobrunner imports this package but the `web` command.
"""
