"""One serializer per request body: it parses the body the view receives,
and it is what the OpenAPI schema shows (drf-spectacular reads the same
class), so the two cannot drift apart.

Where Medusa checks a body its own way (emailpass credentials, the
email-otp provider route, the reset's password), the serializer's
`run_validation` is that check, with Medusa's statuses and messages. Where
a service checks a value further (an address is normalized and refused by
the services; the password policy; a code's shape), the field takes what
the service must see and documents what can succeed.
"""

from typing import Any

from django.conf import settings
from django.core.validators import MinLengthValidator
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api.fields import (
    BoundedCharField,
    MetadataField,
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictSerializer,
)
from core.errors import InvalidData, Unauthorized


class SchemaMinLength(MinLengthValidator):
    """A minimum length the schema states and a service enforces, with its
    own message (drf-spectacular would otherwise state 1 for a field that
    refuses blanks)."""

    def __call__(self, value: Any) -> None:
        return None


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254})
class EmailInputField(StrictCharField):
    """An address as typed: the services normalize it and refuse what is no
    address (400 `Invalid email address`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault("allow_blank", False)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "minLength": settings.CUSTOMER_PASSWORD_MIN_LENGTH,
        "maxLength": settings.CUSTOMER_PASSWORD_MAX_LENGTH,
        "pattern": r"\D",
        "description": "8-256 characters, not all digits, not a common password",
    }
)
class NewPasswordField(StrictCharField):
    """A new password: the policy (accounts.services.identities.password_policy_check)
    answers 400 `invalid_data` for one that breaks it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 1024)
        kwargs.setdefault("allow_blank", False)
        super().__init__(**kwargs)
        self.validators.append(SchemaMinLength(settings.CUSTOMER_PASSWORD_MIN_LENGTH))


@extend_schema_field(
    {
        "type": "string",
        "minLength": settings.OTP_LENGTH,
        "maxLength": settings.OTP_LENGTH,
        "pattern": f"^[0-9]{{{settings.OTP_LENGTH}}}$",
    }
)
class CodeField(StrictCharField):
    """Only OTP_LENGTH digits can match; anything else is refused as a
    wrong code (and counted)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("allow_blank", False)
        super().__init__(**kwargs)
        self.validators.append(SchemaMinLength(settings.OTP_LENGTH))


def _medusa_strings(data: Any, *names_and_messages: tuple[str, str]) -> list[str]:
    """Medusa's provider checks, in its order: each field a non-empty string,
    else 401 with its message; other keys are ignored."""
    get = data.get if hasattr(data, "get") else lambda key: None
    values = []
    for name, message in names_and_messages:
        value = get(name)
        if not isinstance(value, str) or not value:
            raise Unauthorized(message)
        values.append(value)
    return values


class _MedusaCredentials(serializers.Serializer):
    """Medusa's emailpass checks (password first, then email) are its
    validation."""

    def run_validation(self, data: Any = serializers.empty) -> dict[str, str]:
        password, email = _medusa_strings(
            data,
            ("password", "Password should be a string"),
            ("email", "Email should be a string"),
        )
        return {"email": email, "password": password}


class LoginSerializer(_MedusaCredentials):
    """Medusa's emailpass body: a missing or non-string field is 401, other
    keys are ignored."""

    email = serializers.CharField()
    password = serializers.CharField()


class RegisterSerializer(_MedusaCredentials):
    """A missing or non-string field is 401 (Medusa), other keys are
    ignored."""

    email = EmailInputField()
    password = NewPasswordField()


class PasswordUpdateSerializer(serializers.Serializer):
    """A missing password is 401 `Unauthorized` (Medusa); other keys are
    ignored."""

    password = NewPasswordField()

    # The token is checked before the password (an invalid token is 401
    # `Invalid token` whatever the body), so the service checks it.
    def run_validation(self, data: Any = serializers.empty) -> dict[str, Any]:
        return {"password": data.get("password") if isinstance(data, dict) else None}


@extend_schema_serializer(component_name="PasswordReset")
class PasswordResetSerializer(StrictSerializer):
    identifier = StrictCharField(max_length=254)
    metadata = MetadataField(required=False, allow_null=True)


class CustomerProfileSerializer(StrictSerializer):
    company_name = StrictCharField(required=False, allow_null=True)
    first_name = StrictCharField(required=False, allow_null=True)
    last_name = StrictCharField(required=False, allow_null=True)
    phone = StrictCharField(required=False, allow_null=True, max_length=64)
    metadata = MetadataField(required=False, allow_null=True)


@extend_schema_serializer(component_name="CustomerCreate")
class CustomerCreateSerializer(CustomerProfileSerializer):
    """The body as the schema states it: the view's own check makes
    `email` required, with Medusa's message."""

    # A missing or null email answers Medusa's message, after the body's
    # other checks; the schema shows it required (api/schema.py).

    email = StrictEmailField(required=False, allow_null=True)
    schema_required = ("email",)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("email"):
            raise InvalidData("Email is required to create a customer")
        return attrs


@extend_schema_serializer(component_name="Signup")
class SignupSerializer(StrictSerializer):
    """The body as the schema states it (the services check the email
    and the password policy)."""

    email = EmailInputField()
    password = NewPasswordField()
    first_name = StrictCharField(required=False, allow_null=True)
    last_name = StrictCharField(required=False, allow_null=True)
    phone = StrictCharField(required=False, allow_null=True, max_length=64)


@extend_schema_serializer(component_name="OtpSend")
class OtpSendSerializer(StrictSerializer):
    email = EmailInputField()


@extend_schema_serializer(component_name="OtpVerify")
class OtpVerifySerializer(StrictSerializer):
    """The body as the schema states it: only an address that was sent a
    code, and only a well-formed code, can succeed."""

    email = EmailInputField()
    code = CodeField()


@extend_schema_serializer(component_name="EmailVerify")
class EmailVerifySerializer(StrictSerializer):
    """Exactly one of: the mailed code (in a session of the account), or the
    mailed link's token (no login needed)."""

    code = CodeField(required=False)
    token = StrictCharField(required=False, allow_blank=False, max_length=512)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("code" in attrs) == ("token" in attrs):
            raise InvalidData("Provide either 'code' or 'token'")
        return attrs


@extend_schema_serializer(component_name="EmailChange")
class EmailChangeSerializer(StrictSerializer):
    """The new address, as typed (normalized and checked by the flow)."""

    email = EmailInputField()


@extend_schema_serializer(component_name="EmailChangeConfirm")
class EmailChangeConfirmSerializer(StrictSerializer):
    """The code mailed to the new address."""

    code = CodeField()


@extend_schema_serializer(component_name="EmailChangeUndo")
class EmailChangeUndoSerializer(StrictSerializer):
    """The undo link's token, from the notice to the old address."""

    token = StrictCharField(allow_blank=False, max_length=1024)


@extend_schema_serializer(component_name="OtpLogin")
class OtpLoginSerializer(serializers.Serializer):
    # `sdk.auth.login("customer", "email-otp", {email, code})`: Medusa's
    # provider contract (a missing or non-string field is 401).

    email = EmailInputField()
    code = CodeField()

    def run_validation(self, data: Any = serializers.empty) -> dict[str, str]:
        email, code = _medusa_strings(
            data,
            ("email", "Email should be a string"),
            ("code", "Code should be a string"),
        )
        return {"email": email, "code": code}


@extend_schema_serializer(component_name="CustomerDelete")
class CustomerDeleteSerializer(StrictSerializer):
    """Proof that the customer is at the keyboard: the password, or a code
    e-mailed to their own address (POST /store/auth/otp/send). One of them,
    never both."""

    password = StrictCharField(required=False, allow_blank=False, max_length=1024)
    code = CodeField(required=False)
    schema_one_of = (("password",), ("code",))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("password" in attrs) == ("code" in attrs):
            raise InvalidData(
                "Send your password or a code e-mailed to you "
                "(POST /store/auth/otp/send): one of them"
            )
        return attrs


ADDRESS_TEXT_MAX_LENGTH = 255


class AddressTextField(BoundedCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("max_length", ADDRESS_TEXT_MAX_LENGTH)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "pattern": "^[A-Za-z]{2}$",
        "description": "ISO 3166-1 alpha-2, any case; stored lower-case",
    }
)
class CountryCodeField(StrictCharField):
    """Two letters, stored lower-case as Medusa's regions hold them (Medusa
    stores what it is sent, so `US` there matches no region)."""

    default_error_messages = {
        **StrictCharField.default_error_messages,
        "country": "Invalid country code for field '{field}': expected two "
        "letters (ISO 3166-1 alpha-2), got: '{got}'",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # Before CharField's own checks, which let "" through untouched.
        if isinstance(data, str) and not (
            len(data) == 2 and data.isascii() and data.isalpha()
        ):
            self.fail("country", field=self.field_name, got=data[:20])
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).lower()


@extend_schema_serializer(component_name="CustomerAddress")
class AddressSerializer(StrictSerializer):
    """Medusa's StoreCreateCustomerAddress, which is also its update body:
    nothing is required; a string field takes a string or null (null
    clears it on update); `metadata` merges; a default flag is a boolean
    (true takes it from the customer's other addresses)."""

    first_name = AddressTextField()
    last_name = AddressTextField()
    phone = AddressTextField(max_length=64)
    company = AddressTextField()
    address_1 = AddressTextField()
    address_2 = AddressTextField()
    city = AddressTextField()
    country_code = CountryCodeField()
    province = AddressTextField()
    postal_code = AddressTextField(max_length=32)
    metadata = MetadataField(required=False, allow_null=True)
    address_name = AddressTextField()
    is_default_shipping = StrictBooleanField(required=False)
    is_default_billing = StrictBooleanField(required=False)


@extend_schema_serializer(component_name="PasswordChange")
class PasswordChangeSerializer(StrictSerializer):
    """`{current_password, new_password}`, or `{code, new_password}` for an
    account without a password (the code from POST /store/auth/otp/send to
    the account's own address). Exactly one of the two confirmations."""

    current_password = StrictCharField(
        required=False, allow_blank=False, max_length=1024
    )
    code = CodeField(required=False)
    new_password = NewPasswordField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("current_password" in attrs) == ("code" in attrs):
            raise InvalidData(
                "Send either current_password or code (for an account "
                "without a password), not both"
            )
        return attrs


class SocialLoginStartSerializer(StrictSerializer):
    """`sdk.auth.login("customer", provider, {callback_url})`: the storefront
    page the provider returns to, one of the allowed ones (exact URLs:
    each provider's SOCIAL_<NAME>_CALLBACK_URL and SOCIAL_CALLBACK_URLS);
    missing, the provider's own."""

    callback_url = StrictCharField(required=False, max_length=2048, allow_blank=False)

    def to_internal_value(self, data):
        # DRF reads a blank optional field of a form body as missing: a
        # blank callback_url is refused in either media type.
        if hasattr(data, "get") and data.get("callback_url") == "":
            raise serializers.ValidationError(
                {"callback_url": ["This field may not be blank."]}
            )
        return super().to_internal_value(data)


class SocialLoginCallbackSerializer(serializers.Serializer):
    """The provider's answer, as the storefront's callback page got it in
    its query: `code` and `state`, and RFC 9207's `iss` when the provider
    sends it. Providers add parameters of their own (Google: `scope`,
    `authuser`, `prompt`), which are ignored. Apple posts `user` (JSON: the
    name and email) on a user's first authorization only; its name is kept
    (social.services.posted_profile), never its email (it is not signed)."""

    code = StrictCharField(required=False, max_length=2048)
    state = StrictCharField(required=False, max_length=512)
    iss = StrictCharField(required=False, max_length=2048)
    user = StrictCharField(required=False, max_length=4096)
