"""The compiled translations (locale/*/LC_MESSAGES/django.mo, committed so
no machine needs gettext to run the service) say what their .po files say:
an edit to a .po without `./dev manage compilemessages` fails here.

The .po is compiled again with gettext's msgfmt into a temporary file, and
the two catalogs are compared as Python's gettext reads them (the bytes may
differ between msgfmt versions). `./dev test` installs gettext."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))


def catalog(mo: Path) -> dict:
    with mo.open("rb") as file:
        return dict(gettext.GNUTranslations(file)._catalog)  # type: ignore[attr-defined]


def test_every_supported_language_but_english_has_a_catalog():
    languages = {code for code, _name in settings.LANGUAGES} - {"en"}
    found = {po.parts[-3].lower().replace("_", "-") for po in CATALOGS}
    assert found == languages


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext not installed")
@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.parts[-3])
def test_the_committed_mo_matches_its_po(po: Path, tmp_path: Path):
    fresh = tmp_path / "django.mo"
    subprocess.run(  # noqa: S603  (fixed arguments)
        ["msgfmt", "--check", "-o", str(fresh), str(po)],  # noqa: S607
        check=True,
        capture_output=True,
    )
    committed = catalog(po.with_suffix(".mo"))
    assert committed == catalog(fresh), f"run ./dev manage compilemessages for {po}"
    assert all(committed.values()), "a message without its translation"
