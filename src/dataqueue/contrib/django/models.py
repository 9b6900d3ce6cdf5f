from django.db import models


class Job(models.Model):
    """Stands for dataqueue's jobs in the admin; there is no table: the admin
    reads and changes the jobs through the queue (see admin.py)."""

    class Meta:
        managed = False
        verbose_name = "job"
        default_permissions = ("view", "change")
