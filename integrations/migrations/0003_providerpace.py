from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0002_webhook_scheduling'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProviderPace',
            fields=[
                ('key', models.CharField(max_length=100, primary_key=True, serialize=False)),
                ('next_at', models.FloatField()),
            ],
        ),
    ]
