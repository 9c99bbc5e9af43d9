"""Benchmarks: hashmon beside a plain-sqlite3 floor and a common peer (``make bench``).

Not shipped with hashmon (pyproject packages only monitor, reports and jobs).
"""
