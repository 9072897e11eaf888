# A challenge has a purpose: a login code, or the verification of an
# account's address (docs/account.md). Each purpose has its own open
# challenge per email. The table holds a day of challenges (purged daily),
# so the index and constraint are rebuilt in place.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0002_drop_like_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="otpchallenge",
            name="purpose",
            field=models.CharField(
                choices=[("login", "login"), ("verify", "verify the address")],
                db_default="login",
                default="login",
                max_length=16,
            ),
        ),
        migrations.RemoveConstraint(
            model_name="otpchallenge",
            name="otp_one_open_challenge_per_email",
        ),
        migrations.RemoveIndex(
            model_name="otpchallenge",
            name="otp_email_created_idx",
        ),
        migrations.AddIndex(
            model_name="otpchallenge",
            index=models.Index(
                fields=["email", "purpose", "-created_at"],
                name="otp_email_purpose_created_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="otpchallenge",
            constraint=models.CheckConstraint(
                condition=models.Q(("purpose__in", ["login", "verify"])),
                name="otp_purpose_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="otpchallenge",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("consumed_at__isnull", True),
                    ("locked_at__isnull", True),
                    ("replaced_at__isnull", True),
                ),
                fields=("email", "purpose"),
                name="otp_one_open_challenge_per_email_purpose",
            ),
        ),
    ]
