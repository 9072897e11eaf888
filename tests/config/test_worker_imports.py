"""What a web worker loads at start: only what most requests need."""

from tests.config.test_startup_guards import GOOGLE
from tests.settings_process import django_process

LOADED = """
import sys
from config.wsgi import application
from django.urls import get_resolver
get_resolver().url_patterns
print(sorted({"authlib", "joserfc"} & set(sys.modules)))
from social import services
from social.providers import provider_config
services._client(provider_config("google"))
print(sorted({"authlib", "joserfc"} & set(sys.modules)))
"""


def test_social_logins_http_client_loads_on_the_first_social_login():
    """Authlib (and joserfc under it) cost each worker about 2 MiB
    (docs/performance.md, "Social login's client on first use"): a worker
    starts without them, with social login configured, and loads them
    when a login needs them."""
    proc = django_process(GOOGLE, LOADED)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[]", "['authlib', 'joserfc']"]
