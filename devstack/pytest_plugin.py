"""pytest plugin (`-p devstack.pytest_plugin` in pyproject.toml): plain
`pytest` works on its own.

Under `./dev test`, or wherever the services already run and their
variables are exported (LIVE_SERVER_URL, DATABASE_URL, REDIS_URL, MAIL_DIR,
TEST_* as listed in docs/development.md), it does nothing. Without
LIVE_SERVER_URL it starts the same throw-away stack as `./dev test` (and npm
ci where node_modules is missing) before Django reads its settings, exports
its variables into this process, and stops it when pytest ends.
`--no-devstack` turns it off.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--no-devstack",
        action="store_true",
        help="do not start a throw-away stack when LIVE_SERVER_URL is not set",
    )


def wanted(early_config) -> bool:
    options = early_config.known_args_namespace
    if os.environ.get("LIVE_SERVER_URL") or getattr(options, "no_devstack", False):
        return False
    return not (getattr(options, "help", False) or getattr(options, "version", False))


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before pytest-django's (tryfirst) hook, which imports
    # the settings: the stack's variables must be in place by then.
    if wanted(early_config):
        from devstack.npm import npm_install
        from devstack.stack import ThrowawayStack

        stack = ThrowawayStack("test")
        early_config.add_cleanup(stack.close)
        try:
            stack.start_services()
            stack.start_app()
            npm_install(only_missing=True)
            stack.wait_for_oidc()
            stack.wait_for_github()
            stack.wait_for_medusa()
        except BaseException:
            stack.dump_logs()
            raise
        os.environ.update(stack.test_env())
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)
        early_config.stash[STACK] = stack
    return (yield)


STACK = pytest.StashKey()


def pytest_report_header(config):
    stack = config.stash.get(STACK, None)
    if stack is not None:
        return f"devstack: throw-away stack at {stack.dir} (web {stack.web_url})"
    return None
