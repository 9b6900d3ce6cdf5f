from django.apps import AppConfig


class DataQueueConfig(AppConfig):
    """``INSTALLED_APPS = [..., "dataqueue.contrib.django"]``: the
    ``dataqueue_worker`` and ``dataqueue_migrate`` management commands and
    the admin's jobs pages."""

    name = "dataqueue.contrib.django"
    label = "dataqueue"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"
