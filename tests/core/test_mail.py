"""Templated mail: its parts under a boundary of its own, its headers the
bytes the standard library writes; a failed delivery is reported without
the recipient."""

import copy
import email as email_lib

import pytest
from django.core import mail


def test_mail_failures_do_not_quote_the_recipient(settings, email):
    from core.mail import MailNotDelivered, templated_mail_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    with pytest.raises(MailNotDelivered) as raised:
        templated_mail_send(
            templates="otp/email/", context={"code": "1", "minutes": 1}, to=email
        )

    assert email not in str(raised.value)
    assert mail.outbox == []


def _sent(settings, tmp_path, code: str) -> email_lib.message.Message:
    from core.mail import templated_mail_send

    settings.EMAIL_BACKEND = "core.mail.FileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    templated_mail_send(
        templates="otp/email/", context={"code": code, "minutes": 10}, to="a@b.example"
    )
    (path,) = tmp_path.glob("*.eml")
    return email_lib.message_from_bytes(path.read_bytes())


def test_a_templated_mail_is_its_text_and_html_under_a_boundary_of_its_own(
    settings, tmp_path
):
    message = _sent(settings, tmp_path, "123456")

    assert message.get_content_type() == "multipart/alternative"
    assert message.get_boundary().startswith("=_")
    text, html = message.get_payload()
    assert text.get_content_type() == "text/plain"
    assert "Your sign-in code is 123456" in text.get_payload(decode=True).decode()
    assert html.get_content_type() == "text/html"
    assert ">123456</p>" in html.get_payload(decode=True).decode()


def test_a_boundary_found_in_the_text_is_drawn_again(settings, tmp_path, monkeypatch):
    import core.mail

    token_hex = core.mail.secrets.token_hex
    drawn = iter(["c0de" * 8, "feed" * 8])
    monkeypatch.setattr(
        core.mail.secrets,
        "token_hex",
        lambda n: next(drawn) if n == 16 else token_hex(n),
    )

    message = _sent(settings, tmp_path, f"=_{'c0de' * 8}")

    assert message.get_boundary() == f"=_{'feed' * 8}"
    text, html = message.get_payload()
    assert f"=_{'c0de' * 8}" in text.get_payload(decode=True).decode()
    assert html.get_content_type() == "text/html"


@pytest.mark.parametrize(
    ("subject", "to"),
    [
        ("Your sign-in code", "user1@bench.example"),
        ("x" * (78 - len("Subject: ")), "a@b.example"),  # a whole line, not folded
        ("x" * (79 - len("Subject: ")), "a@b.example"),  # one over: the library's
        ("word " * 30, "a@b.example"),  # folded by the library
        ("Ihr Anmeldecode für den Shop", "jörg@bücher.example"),  # encoded words
        (" leading, trailing ", '"Doe, Jane" <jane@b.example>'),
        ("tab\tand  two spaces", "a+tag@b.example"),
        ("=?utf-8?q?looks_encoded?=", "a@b.example"),
        ("vertical\vtab and form\x0cfeed", "a@b.example"),  # lines to the library
    ],
)
@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_short_ascii_headers_are_the_bytes_the_library_writes(subject, to, linesep):
    from email.policy import compat32

    from core.mail import _Alternatives

    mail = _Alternatives(subject=subject, body="Your code is 123456\n", to=[to])
    mail.attach_alternative("<p>123456</p>", "text/html")
    ours = mail.message()
    theirs = copy.deepcopy(ours)
    theirs.policy = compat32

    assert ours.as_bytes(linesep=linesep) == theirs.as_bytes(linesep=linesep)


def _texts(path) -> tuple[str, str, str]:
    message = email_lib.message_from_bytes(path.read_bytes())
    text, html = message.get_payload()
    return (
        message["Subject"],
        text.get_payload(decode=True).decode(),
        html.get_payload(decode=True).decode(),
    )


# The mails the drain renders once (otp/mail.py): they say only the code
# and its lifetime.
CODE_TEMPLATES = ["otp/email/", "accounts/email/email_change_code/"]


def _sent_texts(
    settings, out, *, code: str, language: str, varying, templates="otp/email/"
):
    from core.mail import templated_mail_send

    settings.EMAIL_BACKEND = "core.mail.FileBackend"
    settings.EMAIL_FILE_PATH = str(out)
    templated_mail_send(
        templates=templates,
        context={"code": code, "minutes": 10},
        to="a@b.example",
        language=language,
        varying=varying,
    )
    (path,) = out.glob("*.eml")
    return _texts(path)


@pytest.mark.parametrize("templates", CODE_TEMPLATES)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("code", ["123456", "000001"])
def test_a_mail_rendered_once_says_what_one_rendered_each_time_says(
    settings, tmp_path, templates, language, code
):
    """A code mail's texts come from a render kept per language, with the
    code put in afterwards: the same subject, text and HTML as rendering
    them with the code; the render kept holds no code."""
    from core.mail import _texts_marked

    def sent(name, varying):
        return _sent_texts(
            settings,
            tmp_path / name,
            code=code,
            language=language,
            varying=varying,
            templates=templates,
        )

    each_time = sent("each", None)
    once = sent("once", "code")
    hits = _texts_marked.cache_info().hits
    again = sent("again", "code")

    assert code in each_time[1]
    assert once == each_time
    assert again == each_time
    assert _texts_marked.cache_info().hits == hits + 1
    kept = _texts_marked(templates, (("minutes", 10),), language, "code")
    assert kept is not None
    assert not any(code in text for text in kept)


def test_a_value_that_is_not_plain_is_rendered_with_the_templates(settings, tmp_path):
    """Markup in the varying value (never a code) is escaped as a render
    with it escapes it: such a value is rendered, not put in."""
    each_time = _sent_texts(
        settings, tmp_path / "each", code="<b>1</b>", language="en", varying=None
    )
    marked = _sent_texts(
        settings, tmp_path / "once", code="<b>1</b>", language="en", varying="code"
    )

    assert marked == each_time
    assert "&lt;b&gt;1&lt;/b&gt;" in marked[2]


def test_a_template_that_changes_the_value_is_rendered_with_it(settings, tmp_path):
    """A template that filters the code (here upper-cased) would change
    the marker too: it is rendered with each code instead, and says it."""
    import copy as copy_lib

    for name, text in {
        "subject.txt": "Code {{ code|upper }}",
        "body.txt": "Your code is {{ code|upper }}",
        "body.html": "<p>{{ code|upper }}</p>",
    }.items():
        (tmp_path / "shouting").mkdir(exist_ok=True)
        (tmp_path / "shouting" / name).write_text(text)
    templates = copy_lib.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0].get("DIRS", []), str(tmp_path)]
    settings.TEMPLATES = templates

    texts = _sent_texts(
        settings,
        tmp_path / "out",
        code="abc123",
        language="en",
        varying="code",
        templates="shouting/",
    )

    assert texts == ("Code ABC123", "Your code is ABC123", "<p>ABC123</p>")
