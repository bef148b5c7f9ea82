"""Vigil's configuration: strict pydantic models loaded from YAML."""

from vigil.config.loader import ConfigError, load_config, load_config_text
from vigil.config.models import (
    CameraConfig,
    LineConfig,
    RoutingRule,
    RulesConfig,
    ServiceConfig,
    StorageConfig,
    VigilConfig,
    ZoneConfig,
)

__all__ = [
    "CameraConfig",
    "ConfigError",
    "LineConfig",
    "RoutingRule",
    "RulesConfig",
    "ServiceConfig",
    "StorageConfig",
    "VigilConfig",
    "ZoneConfig",
    "load_config",
    "load_config_text",
]
