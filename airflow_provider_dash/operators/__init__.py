"""Operators: RunQueryOperator and RefreshDashboardOperator."""
