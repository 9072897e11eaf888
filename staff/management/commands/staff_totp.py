"""Staff second factor: enrol a TOTP device, remove one, list who has one.

    manage.py staff_totp enrol USERNAME [--replace]
    manage.py staff_totp remove USERNAME
    manage.py staff_totp list

`enrol` prints the provisioning URI, its QR code and the secret (to type
in by hand) on this terminal only: show it to the staff member, who scans
it into an authenticator app. Nothing of it is logged.
"""

import io
from base64 import b32encode

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from ops.support import SUPPORT_GROUP

DEVICE_NAME = "authenticator"


class Command(BaseCommand):
    help = "Enrol, remove or list staff TOTP devices (the admin's second factor)."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        enrol = actions.add_parser("enrol", help="Issue a new TOTP device to a user.")
        enrol.add_argument("username")
        enrol.add_argument(
            "--replace",
            action="store_true",
            help="Replace the user's device (a lost or new phone).",
        )
        enrol.add_argument(
            "--no-qr", action="store_true", help="Print the URI and secret only."
        )
        remove = actions.add_parser("remove", help="Remove a user's TOTP devices.")
        remove.add_argument("username")
        actions.add_parser("list", help="Staff users and whether they have a device.")

    def handle(self, *args, action: str, **options) -> None:
        if action == "enrol":
            self.enrol(options["username"], options["replace"], qr=not options["no_qr"])
        elif action == "remove":
            self.remove(options["username"])
        else:
            self.list_staff()

    def staff_user(self, username: str):
        user_model = get_user_model()
        try:
            user = user_model.objects.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff: the admin is for staff")
        return user

    def enrol(self, username: str, replace: bool, *, qr: bool) -> None:
        user = self.staff_user(username)
        with transaction.atomic():
            existing = TOTPDevice.objects.select_for_update().filter(user=user)
            if existing.exists() and not replace:
                raise CommandError(
                    f"{username!r} has a device already; --replace issues a new "
                    "one and the old one stops working"
                )
            existing.delete()
            device = TOTPDevice.objects.create(
                user=user, name=DEVICE_NAME, confirmed=True
            )
        uri = device.config_url
        self.stdout.write(f"TOTP device issued to {username}. Scan this into an")
        self.stdout.write("authenticator app, then log in at /admin/ with its code.")
        if qr:
            picture = io.StringIO()
            segno.make(uri, error="m").terminal(out=picture, compact=True)
            self.stdout.write(picture.getvalue(), ending="")
        self.stdout.write(f"URI:    {uri}")
        self.stdout.write(f"secret: {b32encode(device.bin_key).decode()}")
        self.stdout.write("Whoever sees the secret can make codes: clear the screen.")

    def remove(self, username: str) -> None:
        user = self.staff_user(username)
        count, _ = TOTPDevice.objects.filter(user=user).delete()
        self.stdout.write(f"removed {count} device(s) of {username}")

    def list_staff(self) -> None:
        user_model = get_user_model()
        for user in user_model.objects.filter(is_staff=True).order_by("username"):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            role = "superuser" if user.is_superuser else ""
            if user.groups.filter(name=SUPPORT_GROUP).exists():
                role = f"{role} {SUPPORT_GROUP}".strip()
            state = (
                f"device (last used {device.last_used_at or 'never'})"
                if device
                else "NO DEVICE: cannot log in while ADMIN_REQUIRE_2FA is on"
            )
            self.stdout.write(f"{user.get_username()}\t{role or 'staff'}\t{state}")
