import functools

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script


@functools.cache
def cache_redis() -> redis.Redis:
    """The cache's Redis client, kept: Django's cache makes a client object
    for every call, which cost more than the rate limits' round trips. Its
    connection pool reconnects after an outage and in a forked process."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        raise TypeError("rate limits and drain marks need the Redis cache")
    client: redis.Redis = backend._cache.get_client(write=True)  # noqa: SLF001
    return client


@functools.cache
def cache_script(source: str) -> Script:
    """A Lua script on the cache's Redis, called by its SHA (EVALSHA): Redis
    gets its text once, and again after a restart."""
    return cache_redis().register_script(source)
