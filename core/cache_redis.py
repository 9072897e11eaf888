import functools

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


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
