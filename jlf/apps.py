from django.apps import AppConfig


class JlfConfig(AppConfig):
    """The project package as an app: signal wiring (request ids into tasks, personal-data
    scrubbing across apps) and the heartbeat schedule."""

    name = "jlf"
    verbose_name = "JLF project"

    def ready(self):
        from . import purge, tasks

        tasks.connect()
        purge.connect()
