"""Tests of the hooks, the parameters and the shared HTTP layer."""
