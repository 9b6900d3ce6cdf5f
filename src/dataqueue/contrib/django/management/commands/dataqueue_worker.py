"""``manage.py dataqueue_worker``: ``dataqueue worker`` with Django set up."""

from dataqueue.cli.worker import worker
from dataqueue.contrib._cli import with_optional_handlers
from dataqueue.contrib.django.commands import ClickCommand


class Command(ClickCommand):
    help = "Run dataqueue jobs until SIGTERM or Ctrl-C (options of dataqueue worker)."
    click_command = with_optional_handlers(
        worker, "the settings' DataQueueBackend tasks and DATAQUEUE['HANDLERS']"
    )
