"""Configuration: the schema (``schema``) and how files are read and layered (``files``).

Import from here: ``from escalate.config import Config, load_config``.
"""

from escalate.config.files import config_sources, load_config, nested_model
from escalate.config.schema import (
    CLI,
    DEFAULT,
    PYPROJECT_NAME,
    YML_NAME,
    Config,
    ConfigWarning,
    PriceOverride,
    RoleConfig,
    RouterConfig,
    TierConfig,
    ValidateConfig,
)

__all__ = [
    "CLI",
    "DEFAULT",
    "PYPROJECT_NAME",
    "YML_NAME",
    "Config",
    "ConfigWarning",
    "PriceOverride",
    "RoleConfig",
    "RouterConfig",
    "TierConfig",
    "ValidateConfig",
    "config_sources",
    "load_config",
    "nested_model",
]
