"""Middleware only the admin needs, kept off the API's path."""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django_otp.middleware import OTPMiddleware

from core.http import is_storefront

# config/urls.py mounts the admin here.
ADMIN_PATH = "/admin/"


class StaffMessageMiddleware(MessageMiddleware):
    """Django's messages for the admin's pages only: making the message
    storage (a cookie and a session backend) was 7 % of the CPU of
    `GET /store/customers/me`, and no API answer carries a message."""

    def process_request(self, request):
        if request.path_info.startswith(ADMIN_PATH):
            super().process_request(request)


class _OffTheStorefront:
    """Skip the middleware on the storefront's routes. Those authenticate
    customers with tokens and cookies of their own (api/authentication.py)
    and never read a staff session, `request.user` or its second factor;
    building those lazily for every request was 5 % of the web worker's CPU
    under `GET /store/customers/me` (docs/performance.md)."""

    def __call__(self, request):
        if is_storefront(request):
            return self.get_response(request)
        return super().__call__(request)


class StaffSessionMiddleware(_OffTheStorefront, SessionMiddleware):
    pass


class StaffAuthenticationMiddleware(_OffTheStorefront, AuthenticationMiddleware):
    pass


class StaffOTPMiddleware(_OffTheStorefront, OTPMiddleware):
    pass
