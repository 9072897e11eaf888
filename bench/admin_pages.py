"""Support's admin pages at each size: the lists and searches staff use on
a Monday morning, timed in-process (Django's test client, a superuser) with
their queries counted. A search for one customer must cost the same at 10^3
and 10^6 rows; pages that count orphans cost what the orphans cost (the
partial index), by design.

    python -m bench.admin_pages --sizes 1000,100000
"""

import argparse
import random

from bench import load_data
from bench.common import Stopwatch, django_setup, load_note, say, summary_ms, table

SAMPLES = 15  # after a warm-up request and a counted one per page


def pages(dataset: load_data.Dataset, rng: random.Random) -> dict[str, str]:
    """Page name -> path, searching for a random customer and orphan."""
    if not dataset.orphans:
        raise ValueError("the admin pages benchmark needs some orphans")
    customer = orphan = None
    while customer is None or orphan is None:
        i = rng.randint(1, dataset.n)
        if dataset.is_orphan(i):
            orphan = orphan or load_data.orphan_email(i)
        else:
            customer = customer or load_data.customer_email(i)
    return {
        "customers": "/admin/accounts/customer/",
        "customer by email": f"/admin/accounts/customer/?q={customer.upper()}",
        "identities": "/admin/accounts/authidentity/",
        "identity by email": f"/admin/accounts/authidentity/?q={customer}",
        "provider identities": "/admin/accounts/provideridentity/",
        "provider identity by email": f"/admin/accounts/provideridentity/?q={customer}",
        "orphans (counts them)": "/admin/orphans/orphan/",
        "orphan by email": f"/admin/orphans/orphan/?q={orphan}",
        "deletion audit": "/admin/orphans/orphandeletion/",
    }


def run(*, sizes: list[int], orphan_share: float = 0.1, seed: int = 6) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(seed)  # noqa: S311  (sampling, not secrets)
    staff, _ = User.objects.update_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")  # requests go secure=True: the
    # stack runs production settings, which redirect plain HTTP
    results: dict = {"sizes": sizes, "by_size": {}}
    for n in sizes:
        dataset, load_seconds = load_data.ensure(n, orphan_share=orphan_share)
        say(f"\nadmin pages, N = {n:,}: loaded in {load_seconds:.1f} s; {load_note()}")
        client.force_login(staff)  # a load empties the sessions
        figures = {}
        for name, path in pages(dataset, rng).items():
            answer = client.get(path, secure=True)  # also the warm-up
            if answer.status_code != 200:
                raise RuntimeError(
                    f"{path} answered {answer.status_code} "
                    f"{answer.headers.get('Location', '')}"
                )
            with CaptureQueriesContext(connection) as captured:
                client.get(path, secure=True)
            # Read now: the next request's new connection clears the log.
            queries = len(captured.captured_queries)
            watch = Stopwatch()
            for _ in range(SAMPLES):
                with watch:
                    client.get(path, secure=True)
            figures[name] = {**summary_ms(watch.samples), "queries": queries}
        results["by_size"][str(n)] = figures
    say("\n" + _table(results))
    return results


def _table(results: dict) -> str:
    sizes = results["sizes"]
    rows = []
    for name in results["by_size"][str(sizes[0])]:
        cells = [results["by_size"][str(n)][name] for n in sizes]
        rows.append(
            [name]
            + [f"{c['p50_ms']:.0f} ({c['queries']})" for c in cells]
            + [f"{cells[-1]['p50_ms'] / cells[0]['p50_ms']:.2f}"]
        )
    return table(["page", *[f"N={n:,} p50 ms (queries)" for n in sizes], "ratio"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    args = parser.parse_args()
    django_setup()
    run(sizes=[int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
