from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice


class StaffOtpLoginForm(OTPAdminAuthenticationForm):
    """Username, password and the code of the user's TOTP device, on one
    page. A wrong password and a wrong (missing, reused, throttled) code get
    the same answer, so the form never tells that a password was right; the
    code's failures count for the lockout as a wrong password does."""

    otp_token = forms.CharField(
        required=False,
        label="Authenticator code",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s, password and authenticator "
            "code for a staff account. Note that the username and password "
            "are case-sensitive."
        ),
    }

    def clean(self):
        # The password first: Django's authenticate(), which axes guards.
        cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        try:
            self.clean_otp(user)
        except ValidationError:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            self.user_cache = None
            raise self.get_invalid_login_error() from None
        return cleaned_data

    def _chosen_device(self, user):
        # One TOTP device a staff user (`staff_totp enrol`). Locked, as
        # django-otp locks a device it verifies, so that two logins with one
        # code wait for each other and the second finds it used (last_t).
        return (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            .first()
        )
