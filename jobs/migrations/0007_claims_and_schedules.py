# Webhook attempts are claimed before they are sent (unique per job and attempt number),
# completed with their outcome, and retries are scheduled in the database. The sweep
# records when it re-sent a queued job, so it re-sends it once per interval.

from django.db import migrations, models
from django.db.models import Count, F


def complete_and_renumber(apps, schema_editor):
    """Attempts recorded so far were all completed. A task delivered twice could record two
    attempts with one number; renumber those jobs' attempts in order, so the unique
    constraint holds."""
    WebhookDelivery = apps.get_model("jobs", "WebhookDelivery")
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        # Check the foreign keys as each UPDATE runs: with checks left pending to the end of
        # the transaction, PostgreSQL refuses the indexes and constraint added after this.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    WebhookDelivery.objects.update(completed_at=F("created_at"))
    twice = (
        WebhookDelivery.objects.order_by()
        .values("job_id", "attempt")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("job_id", flat=True)
    )
    for job_id in set(twice):
        rows = WebhookDelivery.objects.filter(job_id=job_id).order_by("created_at", "pk")
        for number, pk in enumerate(rows.values_list("pk", flat=True), start=1):
            WebhookDelivery.objects.filter(pk=pk).update(attempt=number)
    if postgres:
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0006_counter"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="requeued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="completed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="dispatch_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(complete_and_renumber, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("dispatch_at__isnull", False)), fields=["dispatch_at"], name="webhook_retry_due"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("completed_at__isnull", True)), fields=["created_at"], name="webhook_in_flight"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(fields=("job", "attempt"), name="webhook_attempt_once"),
        ),
    ]
