from django.apps import AppConfig


class DataQueueConfig(AppConfig):
    """``INSTALLED_APPS = [..., "dataqueue.contrib.django"]``: the
    ``dataqueue_worker`` and ``dataqueue_migrate`` management commands."""

    name = "dataqueue.contrib.django"
    label = "dataqueue"
    verbose_name = "Background jobs"
