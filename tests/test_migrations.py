"""The models and the migrations agree: a model change without its migration
would reach production as a schema the code does not expect."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
