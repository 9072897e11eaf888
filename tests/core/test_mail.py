"""Templated mail: a failed delivery is reported without the recipient."""

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
