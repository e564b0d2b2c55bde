"""Triggers: JobTrigger waits on Redash jobs in the triggerer."""
