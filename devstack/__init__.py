"""The developer stack behind ./dev: a private PostgreSQL and Redis, the
web server, Celery worker and beat, for `./dev up` (data kept in var/) and
for throw-away runs (`./dev test`, `./dev bench`, plain `pytest`).

Standard library only, apart from honcho for `./dev up`: this package runs
from the .venv that ./dev made, and never imports Django itself
(devstack.prepare does, in a process of its own).
"""
