import smtplib

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.emails import email_hash


class MailNotDelivered(Exception):
    """Raised instead of smtplib's errors, whose text quotes the recipient:
    the worker logs a task's exception, and plain emails never reach logs."""


def templated_mail_send(*, templates: str, context: dict, to: str) -> None:
    """Send `<templates>subject.txt`, `body.txt` and `body.html` to one address."""
    subject = render_to_string(f"{templates}subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"{templates}body.txt", context),
        to=[to],
    )
    message.attach_alternative(
        render_to_string(f"{templates}body.html", context), "text/html"
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise MailNotDelivered(
            f"{type(exc).__name__} sending to userId {email_hash(to)}"
        ) from None
