"""Sensors: JobSensor waits on a Redash job (poke, reschedule or deferrable)."""
