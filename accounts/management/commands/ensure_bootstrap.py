"""Ensure the staff account (DJANGO_SUPERUSER_*) and the publishable key
(STORE_PUBLISHABLE_KEY) exist; ./dev runs it after every migrate."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.models import PublishableApiKey


class Command(BaseCommand):
    help = "Create the staff superuser and the publishable API key when missing."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if username and password:
            user_model = get_user_model()
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "email": os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
                    "is_staff": True,
                    "is_superuser": True,
                },
            )
            if created:
                user.set_password(password)
                user.save()
            self.stdout.write(
                f"staff account {username}: {'created' if created else 'exists'}"
            )
        key = os.environ.get("STORE_PUBLISHABLE_KEY")
        if key:
            _, created = PublishableApiKey.objects.get_or_create(
                token=key, defaults={"title": "Storefront (from STORE_PUBLISHABLE_KEY)"}
            )
            self.stdout.write(f"publishable key: {'created' if created else 'exists'}")
