# API tokens get an expiry (existing tokens: 90 days from their creation) and the security events
# for token creation and revocation.

import datetime

from django.db import migrations, models


def expire_existing(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in ApiToken.objects.all():
        token.expires_at = token.created_at + datetime.timedelta(days=90)
        token.save(update_fields=["expires_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_apitoken"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(expire_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name='authevent',
            name='kind',
            field=models.CharField(choices=[('account.registered', 'Account registered'), ('account.activated', 'Account activated'), ('account.login', 'Logged in'), ('account.login_failed', 'Failed login'), ('account.locked', 'Account locked after repeated failed logins'), ('account.unlocked', 'Account unlocked'), ('account.logout', 'Logged out'), ('account.password_changed', 'Password changed'), ('account.recovered', 'Password reset with the activation code'), ('account.reset', 'Account reset: new keys, earlier data lost'), ('account.activation_code_failed', 'Wrong activation code entered'), ('account.token_created', 'API token created'), ('account.token_revoked', 'API token revoked'), ('account.tokens_revoked', 'All API tokens revoked')], max_length=40),
        ),
    ]
