"""What every benchmark script needs: its own freshly created database, and the CPU it ran on."""

from __future__ import annotations

from pathlib import Path


def recreate_database(host: str, name: str) -> None:
    """Drop (closing its connections) and create database ``name`` on ``host``."""
    import psycopg

    with psycopg.connect(f"{host}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, for the figures' "machine" line."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
