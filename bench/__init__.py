"""Benchmarks (docs/performance.md): a set-based data loader and the timed
runs behind `./dev bench`. Nothing here is imported by the application."""

# The parts of `./dev bench`, in the order bench/run.py runs them (devstack
# reads them too: replication runs apart, with a worker).
PARTS = (
    "latency",
    "admin",
    "throughput",
    "hashing",
    "sweep",
    "import",
    "backfill",
    "addresses",
    "cost",
    "replication",
)
