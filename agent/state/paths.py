"""Where Tanba keeps its files, per user.

``TANBA_CONFIG_DIR`` and ``TANBA_STATE_DIR`` override the platform defaults (tests, kiosks,
administrators who want the files elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "tanba"


def config_dir() -> Path:
    override = os.environ.get("TANBA_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP, appauthor=False))


def state_dir() -> Path:
    override = os.environ.get("TANBA_STATE_DIR")
    return Path(override) if override else Path(platformdirs.user_state_dir(APP, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def origins_file() -> Path:
    return config_dir() / "origins.json"


def token_file() -> Path:
    return state_dir() / "client-token"
