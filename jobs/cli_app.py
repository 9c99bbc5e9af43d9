"""What every ``hashmon`` command shares: the settings and engine opened once (``App``),
and the date parameter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy import Engine

from monitor.config import DEFAULTS_NOTICE, load_settings
from monitor.settings import BUILT_IN, Settings
from monitor.store.engine import make_engine


@dataclass
class App:
    config_path: str | None
    database_url: str | None
    verbose: int
    _settings: Settings | None = None
    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path, self.database_url)
            if self._settings.origin == BUILT_IN:
                click.echo(f"note: {DEFAULTS_NOTICE}", err=True)  # once: settings are cached
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
        return self._engine

    def close(self) -> None:
        # closed now, not whenever the collector runs: SQLite removes its -wal and -shm
        # files when the last connection closes, and a caller may be reading the folder
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_app = click.make_pass_decorator(App)


class DateParam(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date like 2017-06-12", param, ctx)


DATE = DateParam()
