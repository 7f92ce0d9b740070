"""Prefect flows: orchestration only; every step calls cx_text functions."""
