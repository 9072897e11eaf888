from otp.models import OtpChallenge, OtpFailureBudget, Purpose


def challenge_latest_for_update(
    *, email: str, purpose: str = Purpose.LOGIN
) -> OtpChallenge | None:
    """The newest challenge of an email for a purpose, row-locked
    (otp_email_purpose_created_idx)."""
    return (
        OtpChallenge.objects.select_for_update()
        .filter(email=email, purpose=purpose)
        .order_by("-created_at")
        .first()
    )


def challenge_latest_for_subject(*, subject: str, purpose: str) -> OtpChallenge | None:
    """The newest challenge opened for a subject (an identity changing its
    address) and purpose (otp_subject_purpose_idx)."""
    return (
        OtpChallenge.objects.filter(subject=subject, purpose=purpose)
        .exclude(subject="")
        .order_by("-created_at")
        .first()
    )


def challenge_for_update(*, challenge_id: str, purpose: str) -> OtpChallenge | None:
    """One challenge by its id (the primary key), row-locked."""
    return (
        OtpChallenge.objects.select_for_update()
        .filter(pk=challenge_id, purpose=purpose)
        .first()
    )


def failure_budget(*, email: str) -> OtpFailureBudget:
    """The email's budget row, or an unsaved empty one."""
    return OtpFailureBudget.objects.filter(email=email).first() or OtpFailureBudget(
        email=email
    )
