"""The configuration file (format v1): models and the validating loader."""

from gateway.config.loader import ConfigFileError, load_config, load_text
from gateway.config.models import GatewayConfig

__all__ = ["ConfigFileError", "GatewayConfig", "load_config", "load_text"]
