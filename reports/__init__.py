"""Reporting: figures (METRICS.md), charts and renderers. Reads the store; never collects."""
