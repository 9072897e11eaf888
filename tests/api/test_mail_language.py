"""Mail in the customer's language (docs/account.md): each customer mail
in English and Simplified Chinese, the language taken from the request
(`x-medusa-locale`, then `Accept-Language`, unsupported ones ignored),
remembered on the customer, and used for mail sent without a request."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import override_settings

from accounts.models import MAIL_LANGUAGES, Customer
from tests.api.test_email_change import undo_token
from tests.factories import PASSWORD, customer_create, registration_token, token_for
from tests.otp.conftest import mailed_code, send_code

pytestmark = pytest.mark.django_db

__all__ = ["send_code"]  # the OTP fixture, for a code login here

ME = "/store/customers/me"
LOGIN = "/auth/customer/emailpass"
RESET = "/auth/customer/emailpass/reset-password"
OTP_SEND = "/store/auth/otp/send"
OTP_VERIFY = "/store/auth/otp/verify"
SIGNUP = "/store/auth/signup"
NEW_PASSWORD = "a brand new passphrase"

# What each mail says, per language: its subject, a sentence of the text
# body and one of the HTML body (where they differ).
EXPECTED = {
    "otp": {
        "en": ("Your sign-in code", "Your sign-in code is", "It works once"),
        "zh-hans": ("您的登录验证码", "您的登录验证码是", "验证码仅可使用一次"),
    },
    "reset": {
        "en": (
            "Reset your password",
            "open this link within 15 minutes",
            "Choose a new password</a> (the link works for 15 minutes)",
        ),
        "zh-hans": (
            "重置您的密码",
            "请在 15 分钟内打开以下链接",
            "设置新密码</a>（链接在 15 分钟内有效）",
        ),
    },
    "verify": {
        "en": ("Confirm your e-mail address", "Your confirmation code is", "Or <a"),
        "zh-hans": ("请确认您的电子邮件地址", "您的确认码是", "或者<a"),
    },
    "changed": {
        "en": ("Your password was changed", "browser or app: Firefox", "network:"),
        "zh-hans": ("您的密码已更改", "浏览器或应用：Firefox", "网络："),
    },
    "new_device": {
        "en": ("A new sign-in to your account", "browser or app: Firefox", "network:"),
        "zh-hans": ("您的账户有新的登录", "浏览器或应用：Firefox", "网络："),
    },
    "email_code": {
        "en": ("Confirm your new e-mail address", "Your code is", "<strong>"),
        "zh-hans": ("请确认您的新电子邮件地址", "您的验证码是", "<strong>"),
    },
    "email_changed": {
        "en": ("Your e-mail address was changed", "undo the change within", "undo"),
        "zh-hans": ("您的电子邮件地址已更改", "小时内通过以下链接撤销", "撤销此更改"),
    },
    "email_confirmed": {
        "en": (
            "This is now your account's e-mail address",
            "the one you sign in",
            "undo",
        ),
        "zh-hans": (
            "这是您账户现在的电子邮件地址",
            "您将使用此电子邮件地址登录",
            "撤销",
        ),
    },
    "email_undone": {
        "en": ("Your e-mail address was restored", "may know your password", "now</a>"),
        "zh-hans": ("您的电子邮件地址已恢复", "可能知道您的密码", "立即设置新密码</a>"),
    },
    "deleted": {
        "en": ("Your account was deleted", "has been deleted, as was asked", "gone"),
        "zh-hans": ("您的账户已删除", "账户已被删除", "均已删除"),
    },
    "disabled": {
        "en": (
            "Your password was switched off",
            "choose a new one within 15 minutes",
            "Choose a new password</a> to sign in with a password again",
        ),
        "zh-hans": (
            "您的密码已停用",
            "请在 15 分钟内设置新密码",
            "设置新密码</a>，即可再次使用密码登录",
        ),
    },
}

# The templates of each kind: every mail the service sends is one of them.
TEMPLATES = {
    "otp": "otp/email",
    "reset": "accounts/email/password_reset",
    "verify": "accounts/email/verify_email",
    "changed": "accounts/email/password_changed",
    "new_device": "accounts/email/new_device",
    "email_code": "accounts/email/email_change_code",
    "email_changed": "accounts/email/email_changed",
    "email_confirmed": "accounts/email/email_change_confirmed",
    "email_undone": "accounts/email/email_change_undone",
    "deleted": "accounts/email/account_deleted",
    "disabled": "accounts/email/password_disabled",
}

CHINESE_BY_SDK = {"HTTP_X_MEDUSA_LOCALE": "zh-CN"}
CHINESE_BY_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
HEADERS = [
    pytest.param(CHINESE_BY_SDK, "zh-hans", id="x-medusa-locale-zh-CN"),
    pytest.param(CHINESE_BY_BROWSER, "zh-hans", id="accept-language-zh-Hans"),
    pytest.param(
        {"HTTP_ACCEPT_LANGUAGE": "fr-FR,de;q=0.9"}, "en", id="unsupported-is-english"
    ),
    pytest.param({"HTTP_X_MEDUSA_LOCALE": "pt-BR"}, "en", id="unsupported-sdk-locale"),
    pytest.param({}, "en", id="no-header"),
]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def the_mail(to: str):
    messages = [m for m in mail.outbox if m.to == [to]]
    assert len(messages) == 1, [m.subject for m in messages]
    return messages[0]


def assert_written_in(message, kind: str, language: str) -> None:
    subject, text, html = EXPECTED[kind][language]
    body_html = message.alternatives[0][0]
    assert message.subject == subject
    assert text in message.body
    assert html in body_html
    assert f'<html lang="{language}">' in body_html
    other = EXPECTED[kind]["en" if language != "en" else "zh-hans"]
    assert other[0] not in message.subject
    assert other[1] not in message.body


def trigger(kind: str, api, email: str, headers: dict, capture) -> None:
    """Make the mail `kind` go to `email`, through HTTP with `headers`."""
    code = ""
    if kind == "disabled":  # a code login of a password nobody confirmed
        customer_create(email=email)
        assert api.post(OTP_SEND, {"email": email}, format="json").status_code == 200
        code = mailed_code(email)
        mail.outbox.clear()  # the code's mail: the notice is the one looked at
    with capture(execute=True):
        if kind == "otp":
            answer = api.post(OTP_SEND, {"email": email}, format="json", **headers)
        elif kind == "reset":
            customer_create(email=email)
            answer = api.post(RESET, {"identifier": email}, format="json", **headers)
        elif kind == "verify":
            answer = api.post(
                SIGNUP, {"email": email, "password": PASSWORD}, format="json", **headers
            )
        elif kind == "changed":
            customer = customer_create(email=email)
            answer = api.post(
                f"{ME}/password",
                {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                format="json",
                HTTP_USER_AGENT="Firefox/140.0 (X11; Linux)",
                **bearer(token_for(customer)),
                **headers,
            )
        elif kind == "new_device":
            token_for(customer_create(email=email))  # a session on "tests"
            with override_settings(NEW_DEVICE_NOTICE=True):
                answer = api.post(
                    LOGIN,
                    {"email": email, "password": PASSWORD},
                    format="json",
                    HTTP_USER_AGENT="Firefox/140.0 (X11; Linux)",
                    **headers,
                )
        elif kind == "email_code":
            customer = customer_create(email=f"old.{email}")
            answer = api.post(
                f"{ME}/email",
                {"email": email},
                format="json",
                **bearer(token_for(customer)),
                **headers,
            )
        elif kind == "email_confirmed":
            token = token_for(customer_create(email=f"old.{email}"))
            api.post(f"{ME}/email", {"email": email}, format="json", **bearer(token))
            code = mailed_code(email)
            mail.outbox.clear()
            answer = api.post(
                f"{ME}/email/confirm",
                {"code": code},
                format="json",
                **bearer(token),
                **headers,
            )
        elif kind in ("email_changed", "email_undone"):
            token = token_for(customer_create(email=email))
            api.post(
                f"{ME}/email", {"email": f"new.{email}"}, format="json", **bearer(token)
            )
            answer = api.post(
                f"{ME}/email/confirm",
                {"code": mailed_code(f"new.{email}")},
                format="json",
                **bearer(token),
                **(headers if kind == "email_changed" else {}),
            )
            if kind == "email_undone":
                undo = undo_token(email)
                mail.outbox.clear()
                answer = api.post(
                    "/store/auth/email/undo", {"token": undo}, format="json", **headers
                )
        elif kind == "disabled":
            answer = api.post(
                OTP_VERIFY, {"email": email, "code": code}, format="json", **headers
            )
        else:
            customer = customer_create(email=email)
            answer = api.delete(
                ME,
                {"password": PASSWORD},
                format="json",
                **bearer(token_for(customer)),
                **headers,
            )
    assert answer.status_code in (200, 201), answer.content


@pytest.mark.parametrize("kind", list(EXPECTED))
@pytest.mark.parametrize(("headers", "language"), HEADERS)
def test_each_mail_is_written_in_the_language_of_the_request(
    api, email, django_capture_on_commit_callbacks, kind, headers, language
):
    trigger(kind, api, email, headers, django_capture_on_commit_callbacks)

    assert_written_in(the_mail(email), kind, language)


def test_every_mail_is_tested_in_every_language():
    """A new mail template fails here until EXPECTED (and so the test above)
    covers it."""
    root = Path(settings.BASE_DIR) / "templates"
    mails = {
        str(subject.parent.relative_to(root)) for subject in root.glob("**/subject.txt")
    }
    assert set(TEMPLATES) == set(EXPECTED)
    assert set(TEMPLATES.values()) == mails


def test_the_sdk_locale_wins_over_the_browser_language(
    api, email, django_capture_on_commit_callbacks
):
    headers = {"HTTP_X_MEDUSA_LOCALE": "en-GB", "HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
    trigger("otp", api, email, headers, django_capture_on_commit_callbacks)

    assert_written_in(the_mail(email), "otp", "en")


def test_the_first_supported_browser_language_is_taken(
    api, email, django_capture_on_commit_callbacks
):
    headers = {"HTTP_ACCEPT_LANGUAGE": "fr-CH, fr;q=0.9, zh-CN;q=0.8, en;q=0.7"}
    trigger("otp", api, email, headers, django_capture_on_commit_callbacks)

    assert_written_in(the_mail(email), "otp", "zh-hans")


def locale_of(email: str) -> str | None:
    return Customer.objects.get(email=email).locale


def test_a_sign_up_remembers_the_language(api, email):
    answer = api.post(
        SIGNUP, {"email": email, "password": PASSWORD}, format="json", **CHINESE_BY_SDK
    )
    assert answer.status_code == 200
    assert locale_of(email) == "zh-hans"


def test_the_profile_step_remembers_the_language(api, email):
    token = registration_token(api, email)
    answer = api.post(
        ME.rsplit("/", 1)[0],
        {"email": email},
        format="json",
        **bearer(token),
        **CHINESE_BY_BROWSER,
    )
    assert answer.status_code == 200, answer.content
    assert locale_of(email) == "zh-hans"


def test_a_login_and_a_profile_update_remember_the_language(api, email):
    customer_create(email=email)
    assert locale_of(email) is None

    login = api.post(
        LOGIN, {"email": email, "password": PASSWORD}, format="json", **CHINESE_BY_SDK
    )
    assert login.status_code == 200
    assert locale_of(email) == "zh-hans"

    # No language header: what was remembered stays.
    token = api.post(LOGIN, {"email": email, "password": PASSWORD}, format="json")
    assert token.status_code == 200
    assert locale_of(email) == "zh-hans"

    updated = api.post(
        ME,
        {"first_name": "Ada"},
        format="json",
        HTTP_X_MEDUSA_LOCALE="en-US",
        **bearer(token.json()["token"]),
    )
    assert updated.status_code == 200
    assert locale_of(email) == "en"


def test_a_code_login_remembers_the_language(api, email, send_code):
    customer_create(email=email)
    code = send_code(email)

    answer = api.post(
        OTP_VERIFY, {"email": email, "code": code}, format="json", **CHINESE_BY_BROWSER
    )

    assert answer.status_code == 200, answer.content
    assert locale_of(email) == "zh-hans"


def test_a_mail_without_a_language_header_uses_the_remembered_one(api, email):
    customer_create(email=email)
    assert (
        api.post(
            LOGIN,
            {"email": email, "password": PASSWORD},
            format="json",
            **CHINESE_BY_SDK,
        ).status_code
        == 200
    )

    # The reset is asked for without a header (another device, a script):
    # the worker writes it in the language the customer's requests left.
    answer = api.post(RESET, {"identifier": email}, format="json")

    assert answer.status_code == 201
    assert_written_in(the_mail(email), "reset", "zh-hans")


def test_a_code_without_a_language_header_uses_the_remembered_one(api, email):
    customer_create(email=email)
    Customer.objects.filter(email=email).update(locale="zh-hans")

    assert api.post(OTP_SEND, {"email": email}, format="json").status_code == 200

    assert_written_in(the_mail(email), "otp", "zh-hans")


def test_the_deletion_notice_uses_the_remembered_language(
    api, email, django_capture_on_commit_callbacks
):
    customer = customer_create(email=email)
    Customer.objects.filter(pk=customer.pk).update(locale="zh-hans")

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.delete(
            ME, {"password": PASSWORD}, format="json", **bearer(token_for(customer))
        )

    assert answer.status_code == 200, answer.content
    assert_written_in(the_mail(email), "deleted", "zh-hans")


def test_the_password_disabled_notice_uses_the_remembered_language(
    api, email, send_code, django_capture_on_commit_callbacks
):
    customer_create(email=email)
    code = send_code(email)
    Customer.objects.filter(email=email).update(locale="zh-hans")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(OTP_VERIFY, {"email": email, "code": code}, format="json")

    assert answer.status_code == 200, answer.content
    assert_written_in(the_mail(email), "disabled", "zh-hans")


def test_the_request_language_wins_over_the_remembered_one(api, email):
    customer_create(email=email)
    Customer.objects.filter(email=email).update(locale="zh-hans")

    answer = api.post(
        RESET, {"identifier": email}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert answer.status_code == 201
    assert_written_in(the_mail(email), "reset", "en")


def test_the_database_holds_only_supported_languages(email):
    customer = customer_create(email=email)
    assert set(MAIL_LANGUAGES) == {code for code, _name in settings.LANGUAGES}
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(locale="fr")
