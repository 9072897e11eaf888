# A third purpose, the confirmation of an e-mail change (docs/account.md,
# "Changing the email"): its code goes to the new address, so the challenge
# names whose it is (`subject`, the identity id), found by a partial index.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0003_challenge_purpose"),
    ]

    operations = [
        migrations.AddField(
            model_name="otpchallenge",
            name="subject",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=64
            ),
        ),
        migrations.AlterField(
            model_name="otpchallenge",
            name="purpose",
            field=models.CharField(
                choices=[
                    ("login", "login"),
                    ("verify", "verify the address"),
                    ("email_change", "change the address"),
                ],
                db_default="login",
                default="login",
                max_length=16,
            ),
        ),
        migrations.RemoveConstraint(
            model_name="otpchallenge",
            name="otp_purpose_known",
        ),
        migrations.AddConstraint(
            model_name="otpchallenge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("purpose__in", ["login", "verify", "email_change"])
                ),
                name="otp_purpose_known",
            ),
        ),
        migrations.AddIndex(
            model_name="otpchallenge",
            index=models.Index(
                condition=models.Q(("subject", ""), _negated=True),
                fields=["subject", "purpose", "-created_at"],
                name="otp_subject_purpose_idx",
            ),
        ),
    ]
