from core.mail import templated_mail_send
from core.tasks import mail_task


# The address crosses the broker sealed (SealedTask), the worker logs the
# masked kwargsrepr the caller passes, no result is stored, sent once per
# task id (core.tasks.mail_task). The account is
# gone when this runs: the mail says so and links nowhere, and its language
# comes from the caller (the request's, else the one the customer had; None
# only in a message queued before the argument existed: the default).
@mail_task
def account_deleted_email_send_task(*, email: str, language: str | None = None) -> None:
    templated_mail_send(
        templates="accounts/email/account_deleted/",
        context={},
        to=email,
        language=language,
    )
