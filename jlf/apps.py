from django.apps import AppConfig


class JlfConfig(AppConfig):
    """The project package as an app: signal wiring for logging/tasks, the heartbeat schedule,
    and project-wide management commands."""

    name = "jlf"
    verbose_name = "JLF project"

    def ready(self):
        from . import tasks

        tasks.connect()
