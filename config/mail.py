from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


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
    message.send()
