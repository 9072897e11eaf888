"""Dev mail (EMAIL_URL=filemail://DIR): one file per message, named by time
and recipient, each a whole RFC 5322 message that tests/mailbox.py reads."""

import email

from django.core.mail import EmailMessage, get_connection

from tests.mailbox import delivered_text, texts_by_recipient
from tests.settings_process import django_process


def test_two_messages_over_one_connection_are_two_files(tmp_path):
    connection = get_connection("core.mail.FileBackend", file_path=str(tmp_path))
    messages = [
        EmailMessage("First", "one", to=["alice@example.com"]),
        EmailMessage("Second", "two", to=["o'brien/x@example.com"]),
    ]
    third = EmailMessage("Third", "three", to=["alice@example.com"])

    with connection:
        assert connection.send_messages(messages) == 2
        assert connection.send_messages([third]) == 1

    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 3, files
    assert [name.split("-", 2)[2].rsplit("-", 1)[0] for name in files] == [
        "alice@example.com",
        "o_brien_x@example.com",
        "alice@example.com",
    ]
    assert all(name.endswith(".eml") for name in files)
    for path in tmp_path.iterdir():
        assert len(email.message_from_bytes(path.read_bytes()).get_all("To")) == 1
        assert path.stat().st_mode & 0o077 == 0
    assert texts_by_recipient(str(tmp_path)) == {
        "alice@example.com": ["one", "three"],
        "o'brien/x@example.com": ["two"],
    }
    assert delivered_text(str(tmp_path), to="alice@example.com", subject="Third") == (
        "three"
    )


def test_a_filemail_url_selects_the_one_file_per_message_backend(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH)"
    )

    proc = django_process({"EMAIL_URL": f"filemail://{tmp_path}"}, code)

    assert proc.stdout.split() == ["core.mail.FileBackend", str(tmp_path)], proc.stderr
