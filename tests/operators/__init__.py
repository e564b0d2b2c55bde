"""Tests of the operators, the sensor and the trigger against the Redash emulator."""
