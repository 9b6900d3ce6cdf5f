"""``manage.py dataqueue_migrate``: ``dataqueue migrate`` on the settings' store."""

from dataqueue.cli.migrate import migrate
from dataqueue.contrib.django.commands import ClickCommand


class Command(ClickCommand):
    help = "Create or upgrade dataqueue's tables (options of dataqueue migrate)."
    click_command = migrate
