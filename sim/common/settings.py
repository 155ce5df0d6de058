"""Runtime settings of the simulators: checked on the command line, at start and by /_sim/config.

Each simulator lists the settings that may change while it runs in a table of
``name -> (type, minimum, maximum[, choices])``; the helpers here apply such a table. ``option``
gives a configuration field the help (and the choices) of its command-line option, and
``BaseSimConfig`` holds the options every simulator has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

# name -> (type, minimum, maximum) or (type, minimum, maximum, choices): the fields of a Setting.
SettingsTable = Mapping[str, tuple[Any, ...]]


class Setting(NamedTuple):
    """What one setting may be: its type, its bounds (None leaves a side open) and, for a str
    (which has no bounds), the choices it allows, if any."""

    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


class SimConfigError(ValueError):
    """A simulator's configuration value is missing, of the wrong type or out of range.

    Named apart from ``app.settings.ConfigError``, the error of the fleet's own settings.
    """


def option(default: Any, help_text: str, choices: tuple[str, ...] | None = None) -> Any:
    """A configuration field with the help (and choices) of its command-line option (see
    serving.parse_config)."""
    metadata: dict[str, Any] = {"help": help_text}
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)


def checked_setting(name: str, value: Any, setting: Setting) -> Any:
    """Coerce and range-check one setting of type ``setting.kind`` (bool, int, float or str).

    A str must be non-blank and, when ``setting.choices`` are given, one of them. Raises
    SimConfigError naming the setting when the value does not fit.
    """
    kind, minimum, maximum, choices = setting
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise SimConfigError(f"{name} must be a non-blank string")
        if choices is not None and value not in choices:
            raise SimConfigError(f"{name} must be one of {', '.join(choices)}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise SimConfigError(f"{name} must be true or false")
        return value
    # bool is an int subclass; true/false is never a meaningful number here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimConfigError(f"{name} must be a number")
    if kind is int and value != int(value):
        raise SimConfigError(f"{name} must be a whole number")
    value = kind(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            bound = f"between {minimum} and {maximum}"
        else:
            bound = f">= {minimum}" if minimum is not None else f"<= {maximum}"
        raise SimConfigError(f"{name} must be {bound}")
    return value


def check_fields(config: Any, table: SettingsTable) -> None:
    """Coerce and range-check, in place, every field of ``config`` that ``table`` names."""
    for name, spec in table.items():
        setattr(config, name, checked_setting(name, getattr(config, name), Setting(*spec)))


def checked_changes(
    payload: Mapping[str, Any], table: SettingsTable, handled_elsewhere: Iterable[str] = ()
) -> dict[str, Any]:
    """The settings of a POST /_sim/config body that ``table`` names, each checked.

    Raises SimConfigError for the first bad value, or for a name that is neither in ``table``
    nor in ``handled_elsewhere`` (names the caller checks itself).
    """
    others = set(handled_elsewhere)
    settings = {}
    for name, value in payload.items():
        if name in table:
            settings[name] = checked_setting(name, value, Setting(*table[name]))
        elif name not in others:
            raise SimConfigError(f"unknown setting {name}")
    return settings


@dataclasses.dataclass
class BaseSimConfig:
    """The options every simulator has, first on its command line: where it listens, its seed, its
    rate-limit window and its injected errors. A simulator's SimConfig adds its own options, sets
    its default port and says which requests ``error_ratio`` fails; its ``RUNTIME_SETTINGS`` (the
    settings POST /_sim/config may change) are checked when it is made."""

    RUNTIME_SETTINGS: ClassVar[SettingsTable] = {}

    host: str = "127.0.0.1"
    port: int = option(0, "0 picks a free port")
    seed: int = option(1, "seed of everything the simulator draws at random")
    rate_window: float = option(60.0, "rate-limit window in seconds (shorten it to compress time)")
    error_ratio: float = option(0.0, "share of requests that fail with --error-status")
    error_status: int = 500

    def __post_init__(self) -> None:
        check_fields(self, self.RUNTIME_SETTINGS)
