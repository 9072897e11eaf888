"""The storefront API's routes, each named: config/urls.py mounts them
under the namespaces `auth` and `store` (`reverse("auth:login", ...)`)."""

from django.urls import path, register_converter

from api.providers import (
    OWN_LOGIN_VIEWS,
    SOCIAL_PROVIDERS,
    PasswordProviderConverter,
)
from api.views.addresses import AddressDetailApi, AddressListApi
from api.views.auth import (
    AuthLoginApi,
    AuthProvidersListApi,
    AuthRegisterApi,
    AuthSessionApi,
    AuthTokenRefreshApi,
)
from api.views.customers import CustomerCreateApi, CustomerMeApi
from api.views.email_change import (
    EmailChangeApi,
    EmailChangeConfirmApi,
    EmailChangeUndoApi,
)
from api.views.email_verify import EmailVerifyApi, EmailVerifySendApi
from api.views.otp import OtpSendApi, OtpVerifyApi
from api.views.password_change import PasswordChangeApi
from api.views.passwords import PasswordResetRequestApi, PasswordUpdateApi
from api.views.privacy import CustomerExportApi
from api.views.sessions import SessionDetailApi, SessionListApi
from api.views.signup import SignupApi
from api.views.social import (
    SocialLinkApi,
    SocialLoginCallbackApi,
    SocialLoginsApi,
    SocialLoginStartApi,
)

register_converter(PasswordProviderConverter, "password_provider")

auth_urlpatterns = [
    path("token/refresh", AuthTokenRefreshApi.as_view(), name="token-refresh"),
    path("session", AuthSessionApi.as_view(), name="session"),
    path("customer/providers", AuthProvidersListApi.as_view(), name="providers"),
    path(
        "customer/<str:provider>/register", AuthRegisterApi.as_view(), name="register"
    ),
    path(
        "customer/<str:provider>/reset-password",
        PasswordResetRequestApi.as_view(),
        name="password-reset-request",
    ),
    path(
        "customer/<str:provider>/update",
        PasswordUpdateApi.as_view(),
        name="password-update",
    ),
    path("customer/<password_provider:provider>", AuthLoginApi.as_view(), name="login"),
    *(
        path(f"customer/{provider}", view.as_view(), name=f"login-{provider}")
        for provider, view in OWN_LOGIN_VIEWS.items()
    ),
    # Each social provider by name, as email-otp: their bodies differ from
    # the password login's, so the schema lists them on paths of their own.
    *(
        route
        for provider in SOCIAL_PROVIDERS
        for route in (
            path(
                f"customer/{provider}",
                SocialLoginStartApi.as_view(),
                {"provider": provider},
                name=f"social-start-{provider}",
            ),
            path(
                f"customer/{provider}/callback",
                SocialLoginCallbackApi.as_view(),
                {"provider": provider},
                name=f"social-callback-{provider}",
            ),
        )
    ),
]

store_urlpatterns = [
    path("customers", CustomerCreateApi.as_view(), name="customer-create"),
    path("customers/me", CustomerMeApi.as_view(), name="customer-me"),
    path(
        "customers/me/password", PasswordChangeApi.as_view(), name="customer-password"
    ),
    path("customers/me/email", EmailChangeApi.as_view(), name="customer-email"),
    path(
        "customers/me/email/confirm",
        EmailChangeConfirmApi.as_view(),
        name="customer-email-confirm",
    ),
    path("auth/email/undo", EmailChangeUndoApi.as_view(), name="email-change-undo"),
    path("customers/me/export", CustomerExportApi.as_view(), name="customer-export"),
    path("customers/me/sessions", SessionListApi.as_view(), name="customer-sessions"),
    path(
        "customers/me/sessions/<str:session_id>",
        SessionDetailApi.as_view(),
        name="customer-session",
    ),
    path("customers/me/providers", SocialLoginsApi.as_view(), name="customer-logins"),
    path(
        "customers/me/providers/<str:provider>",
        SocialLinkApi.as_view(),
        name="customer-provider",
    ),
    path("customers/me/addresses", AddressListApi.as_view(), name="customer-addresses"),
    path(
        "customers/me/addresses/<str:address_id>",
        AddressDetailApi.as_view(),
        name="customer-address",
    ),
    path("auth/signup", SignupApi.as_view(), name="signup"),
    path("auth/otp/send", OtpSendApi.as_view(), name="otp-send"),
    path("auth/otp/verify", OtpVerifyApi.as_view(), name="otp-verify"),
    path(
        "auth/email/verify/send", EmailVerifySendApi.as_view(), name="email-verify-send"
    ),
    path("auth/email/verify", EmailVerifyApi.as_view(), name="email-verify"),
]
