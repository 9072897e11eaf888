from otp.models import OtpChallenge, OtpFailureBudget


def challenge_latest_for_update(*, email: str) -> OtpChallenge | None:
    """The newest challenge of an email, row-locked (otp_email_created_idx)."""
    return (
        OtpChallenge.objects.select_for_update()
        .filter(email=email)
        .order_by("-created_at")
        .first()
    )


def failure_budget(*, email: str) -> OtpFailureBudget:
    """The email's budget row, or an unsaved empty one."""
    return OtpFailureBudget.objects.filter(email=email).first() or OtpFailureBudget(
        email=email
    )
