"""Imported Medusa scrypt-kdf hashes log in and are upgraded to Argon2id."""

import base64
import hashlib
import hmac
import os

import pytest

from accounts.hashers import medusa_scrypt_verify
from accounts.models import AuthIdentity, Provider, ProviderIdentity
from tests.settings_process import django_process

pytestmark = pytest.mark.django_db

LOGIN = "/auth/customer/emailpass"


def medusa_scrypt_hash(password: str, log_n=15, r=8, p=1) -> str:
    """The reference implementation (docs/medusa-contract.md, "Password hashes")."""
    salt = os.urandom(32)
    head = b"scrypt" + bytes([0, log_n]) + r.to_bytes(4, "big") + p.to_bytes(4, "big")
    head += salt
    head += hashlib.sha256(head).digest()[:16]
    dk = hashlib.scrypt(
        password.encode(), salt=salt, n=2**log_n, r=r, p=p, maxmem=2**31 - 1, dklen=64
    )
    return base64.b64encode(
        head + hmac.new(dk[32:], head, hashlib.sha256).digest()
    ).decode()


def test_a_medusa_scrypt_hash_verifies_its_password_and_nothing_else():
    blob = medusa_scrypt_hash("pässword 1")

    assert blob.startswith("c2NyeXB0AA8AAAAIAAAAA")
    assert medusa_scrypt_verify("pässword 1", blob)
    assert not medusa_scrypt_verify("password 1", blob)
    assert not medusa_scrypt_verify("pässword 1", blob[:-4] + "AAAA")
    assert not medusa_scrypt_verify("pässword 1", "not base64!")


def test_imported_medusa_hash_logs_in_and_is_rehashed_with_argon2id(api, email):
    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash="medusa_scrypt$" + medusa_scrypt_hash("old medusa password"),
    )

    wrong = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "nope nope"},
        format="json",
    )
    assert wrong.status_code == 401
    assert ProviderIdentity.objects.get(entity_id=email).password_hash.startswith(
        "medusa_scrypt$"
    )

    response = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "old medusa password"},
        format="json",
    )

    assert response.status_code == 200
    upgraded = ProviderIdentity.objects.get(entity_id=email).password_hash
    assert upgraded.startswith("argon2$argon2id$")
    again = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "old medusa password"},
        format="json",
    )
    assert again.status_code == 200


class HashingWork:
    """Counts the Argon2id verifications and scrypt computations a request
    makes (each still runs: the counter wraps the real functions)."""

    def __init__(self, monkeypatch):
        import accounts.hashers

        self.argon2 = self.scrypt = 0
        argon2_verify = accounts.hashers.Argon2idHasher.verify
        scrypt = accounts.hashers._scrypt

        def counted_argon2(*args, **kwargs):
            self.argon2 += 1
            return argon2_verify(*args, **kwargs)

        def counted_scrypt(*args, **kwargs):
            self.scrypt += 1
            return scrypt(*args, **kwargs)

        monkeypatch.setattr(accounts.hashers.Argon2idHasher, "verify", counted_argon2)
        monkeypatch.setattr(accounts.hashers, "_scrypt", counted_scrypt)
        # Every request asks the database whether Medusa hashes remain.
        monkeypatch.setattr("accounts.selectors._MEDUSA_HASHES_TTL", -1.0)

    def of(self, call) -> tuple[int, int]:
        self.argon2 = self.scrypt = 0
        call()
        return self.argon2, self.scrypt


def failed_login(api, email: str):
    def call():
        response = api.post(
            "/auth/customer/emailpass",
            {"email": email, "password": "a wrong guess"},
            format="json",
        )
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid email or password"

    return call


def test_every_failed_login_does_the_same_hashing_work(api, monkeypatch):
    """An unknown address, an Argon2id account, an imported Medusa account
    not yet re-hashed and an account whose password was disabled: one Argon2id
    and one scrypt verification each, so timing tells none from another."""
    from tests.factories import identity_create

    identity_create(email="argon2@example.com")
    identity_create(email="disabled@example.com")
    ProviderIdentity.objects.filter(entity_id="disabled@example.com").update(
        password_hash="!unusable"
    )
    medusa = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=medusa,
        provider=Provider.EMAILPASS,
        entity_id="imported@example.com",
        password_hash="medusa_scrypt$" + medusa_scrypt_hash("old medusa password"),
    )
    work = HashingWork(monkeypatch)

    done = {
        email: work.of(failed_login(api, f"{email}@example.com"))
        for email in ("unknown", "argon2", "imported", "disabled")
    }

    assert done == dict.fromkeys(done, (1, 1))


def test_without_medusa_hashes_a_failed_login_costs_one_argon2_verification(
    api, monkeypatch
):
    from tests.factories import identity_create

    identity_create(email="argon2@example.com")
    work = HashingWork(monkeypatch)

    assert work.of(failed_login(api, "unknown@example.com")) == (1, 0)
    assert work.of(failed_login(api, "argon2@example.com")) == (1, 0)


def test_medusa_hashes_with_stronger_parameters_verify(api, email):
    import os

    from accounts.hashers import medusa_scrypt_blob
    from accounts.models import Provider, ProviderIdentity

    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash="medusa_scrypt$"
        + medusa_scrypt_blob("strong params", salt=os.urandom(32), log_n=16),
    )

    response = api.post(
        LOGIN, {"email": email, "password": "strong params"}, format="json"
    )

    assert response.status_code == 200


HASH_IN_THREADS_AND_A_FORKED_CHILD = """
import os, signal, threading
import django
django.setup()
from django.contrib.auth.hashers import check_password, make_password
import accounts.hashers as hashers

seen, results = set(), []
argon2_verify = hashers.Argon2PasswordHasher.verify

def watched(self, password, encoded):
    seen.add(threading.current_thread().name)
    return argon2_verify(self, password, encoded)

hashers.Argon2PasswordHasher.verify = watched
encoded = make_password("correct horse")
blob = hashers.medusa_scrypt_blob("pw", salt=os.urandom(32))
scrypt = hashers.medusa_scrypt_encoded(blob)

def login():
    results.append(check_password("correct horse", encoded))
    results.append(check_password("pw", scrypt))

threads = [threading.Thread(target=login, name=f"request-{i}") for i in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
on_callers = any(name.startswith("request-") for name in seen)
print("parent", len(seen), on_callers, all(results), len(results))
seen.clear()
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # a child waiting on its parent's thread would hang
    ok = check_password("correct horse", encoded)
    on_hashing = seen and all(n.startswith("password-hashing") for n in seen)
    os._exit(0 if ok and on_hashing else 1)
print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_hashes_of_many_threads_run_on_the_hashing_threads(threads):
    """Each thread that hashes keeps Argon2id's 19 MiB in its allocator
    arena: four request threads hash on PASSWORD_HASHING_THREADS, so a web
    worker holds that many such blocks, not four (docs/performance.md,
    "Prepared statements, one hashing thread, the web server"). A forked
    worker (the web server's, Celery prefork) hashes on a thread of its own."""
    proc = django_process(
        {"PASSWORD_HASHING_THREADS": str(threads)}, HASH_IN_THREADS_AND_A_FORKED_CHILD
    )

    assert proc.returncode == 0, proc.stderr
    parent, child = proc.stdout.split("\n")[:2]
    _, hashing_threads, on_callers, verified, count = parent.split()
    assert 1 <= int(hashing_threads) <= threads
    assert (on_callers, verified, count) == ("False", "True", "8")
    assert child == "child 0"
