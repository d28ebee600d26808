"""Protocol name -> connector class, imported only when a device uses it (so a gateway with only
Modbus devices never loads asyncua or paho)."""

from __future__ import annotations

import importlib
from typing import Any

from gateway.connectors.base import Connector, ConnectorContext

CONNECTORS = {
    "opcua": "gateway.connectors.opcua:OpcuaConnector",
    "modbus": "gateway.connectors.modbus:ModbusConnector",
    "mqtt": "gateway.connectors.mqtt:MqttConnector",
}


def connector_class(protocol: str) -> type[Connector]:
    """The class implementing `protocol`."""
    try:
        module_name, _, attr = CONNECTORS[protocol].partition(":")
    except KeyError:
        raise ValueError(f"no connector for protocol {protocol!r}") from None
    cls: type[Connector] = getattr(importlib.import_module(module_name), attr)
    return cls


def create(device: Any, context: ConnectorContext) -> Connector:
    """A connector for a validated device configuration."""
    return connector_class(device.protocol)(device, context)  # type: ignore[call-arg]
