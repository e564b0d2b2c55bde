"""Hooks: the sync DashHook and the async client the triggers use."""
