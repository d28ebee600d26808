"""The gateway configuration file, format v1 (docs/gateway-config.md), as pydantic models.

Keys the format defines keep their meaning; keys marked "optional extension" are additions with
defaults, so a file written for the format as specified loads unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.records import Deadband

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
SHARE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"  # an MQTT share name has no '/', '+' or '#'
MAX_WORKERS = 32
ModbusType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
                    "bool", "string"]  # fmt: skip
REGISTER_COUNT = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4,
                  "float32": 2, "float64": 4, "bool": 1}  # fmt: skip


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadbandConfig(Strict):
    """`{type: absolute|percent, value: N}`."""

    type: Literal["absolute", "percent"]
    value: float = Field(ge=0)

    def spec(self) -> Deadband:
        """The runtime deadband."""
        return Deadband(kind=self.type, value=self.value)


class BackoffConfig(Strict):
    """Optional extension: reconnect delays (exponential with jitter)."""

    initial_ms: int = Field(default=500, ge=10)
    max_ms: int = Field(default=30_000, ge=10)


class GatewaySection(Strict):
    """`gateway:`."""

    id: str = Field(pattern=NAME, max_length=64)
    heartbeat_s: float = Field(default=60, gt=0)
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)  # optional extension


class BatchSection(Strict):
    """`batch:` (max_queued_rows is an optional extension)."""

    max_rows: int = Field(default=5000, ge=1, le=1_000_000)
    max_delay_ms: int = Field(default=200, ge=1, le=600_000)
    max_queued_rows: int = Field(default=200_000, ge=1)  # beyond: batches go to the spool


class SpoolSection(Strict):
    """`spool:`; absent keys come from MES_GATEWAY_SPOOL_DIR / MES_GATEWAY_SPOOL_MAX_BYTES."""

    dir: Path | None = None
    max_bytes: int | None = Field(default=None, ge=1024)


class LiveSection(Strict):
    """Optional extension: the NOTIFY live path."""

    enabled: bool = True
    channel: str = Field(default="mes_live_readings", pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class DeviceBase(Strict):
    """Keys every device has."""

    name: str = Field(pattern=NAME, max_length=128)
    equipment: str | None = None
    enabled: bool = True  # optional extension
    backoff: BackoffConfig = BackoffConfig()  # optional extension
    heartbeat_s: float | None = Field(default=None, gt=0)  # optional extension
    worker: int | None = Field(default=None, ge=0)  # optional extension: pins the device


# --- OPC UA ---------------------------------------------------------------------------------------


class OpcuaSecurity(Strict):
    """`security:` of an OPC UA device."""

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None

    @model_validator(mode="after")
    def _files(self) -> OpcuaSecurity:
        if self.policy != "None":
            if self.certificate is None:
                raise ValueError("certificate is required for policy Basic256Sha256")
            if self.private_key is None:
                raise ValueError("private_key is required for policy Basic256Sha256")
        for label, path in (("certificate", self.certificate), ("private_key", self.private_key),
                            ("server_certificate", self.server_certificate)):  # fmt: skip
            if path is not None and not path.is_file():
                raise ValueError(f"{label}: file not found: {path}")
        return self


class OpcuaTag(Strict):
    """An explicit OPC UA tag."""

    signal: str = Field(pattern=NAME)
    node: str = Field(min_length=1)
    unit: str | None = None
    deadband: DeadbandConfig | None = None
    data_type: str | None = None  # optional extension
    equipment: str | None = None  # optional extension
    description: str | None = None  # optional extension


class OpcuaBrowse(Strict):
    """Auto-discovery of variables below a folder."""

    root: str = Field(min_length=1)
    pattern: str = "*"
    signal: str = "{equipment}.{name}"
    recursive: bool = False  # optional extension: descend into sub-folders ({path} = dotted path)
    unit: str | None = None
    deadband: DeadbandConfig | None = None


class OpcuaDevice(DeviceBase):
    """`protocol: opcua`."""

    protocol: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    security: OpcuaSecurity | None = None
    username: str | None = None
    password_env: str | None = None
    mode: Literal["subscribe", "poll"] = "subscribe"
    publishing_interval_ms: int = Field(default=1000, ge=1)
    sampling_interval_ms: int | None = Field(default=None, ge=0)
    queue_size: int = Field(default=10, ge=0)
    timeout_ms: int = Field(default=4000, ge=100)  # optional extension
    connections: int = Field(default=1, ge=1, le=64)  # optional extension: shard monitored items
    deadband: DeadbandConfig | None = None  # optional extension: default for every tag
    tags: list[OpcuaTag] = []
    browse: list[OpcuaBrowse] = []

    @model_validator(mode="after")
    def _something_to_read(self) -> OpcuaDevice:
        if not self.tags and not self.browse:
            raise ValueError("an OPC UA device needs tags or browse entries")
        return self


# --- Modbus ---------------------------------------------------------------------------------------


class ModbusTag(Strict):
    """One point in a PLC register map."""

    signal: str = Field(pattern=NAME)
    table: Literal["holding", "input", "coil", "discrete"]
    address: int = Field(ge=0, le=65535)
    type: ModbusType
    length: int | None = Field(default=None, ge=1, le=125)  # registers; used for strings only
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    deadband: DeadbandConfig | None = None
    bit: int | None = Field(default=None, ge=0, le=15)  # optional extension: bool from a register
    byte_order: Literal["big", "little"] | None = None  # optional extension: per-tag override
    word_order: Literal["big", "little"] | None = None  # optional extension: per-tag override
    encoding: str = "ascii"  # optional extension: string encoding
    equipment: str | None = None  # optional extension
    description: str | None = None  # optional extension

    @model_validator(mode="after")
    def _shape(self) -> ModbusTag:
        bits = self.table in ("coil", "discrete")
        if bits and self.type != "bool":
            raise ValueError(f"a {self.table} holds bits: type must be bool, not {self.type!r}")
        if self.type == "string" and self.length is None:
            raise ValueError("type string needs length (registers)")
        if self.bit is not None and (bits or self.type != "bool"):
            raise ValueError("bit applies only to type bool in a holding or input register")
        if self.address + self.registers > 65536:
            raise ValueError("address + size is beyond register 65535")
        return self

    @property
    def registers(self) -> int:
        """Registers (or bits, for coil/discrete) this tag spans."""
        if self.type == "string":
            return self.length or 1
        return REGISTER_COUNT[self.type]


class ModbusGroup(Strict):
    """Tags polled together at one interval."""

    interval_ms: int = Field(ge=10)
    tags: list[ModbusTag] = Field(min_length=1)


class ModbusDevice(DeviceBase):
    """`protocol: modbus` (Modbus TCP)."""

    protocol: Literal["modbus"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    timeout_ms: int = Field(default=1000, ge=10)
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"
    max_gap: int = Field(default=0, ge=0, le=124)
    max_block: int = Field(default=125, ge=1, le=125)  # optional extension (registers per read)
    groups: list[ModbusGroup] = Field(min_length=1)


# --- MQTT -----------------------------------------------------------------------------------------


class MqttTls(Strict):
    """`tls:` as a mapping."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False  # optional extension: skip host name verification

    @model_validator(mode="after")
    def _files(self) -> MqttTls:
        for label, path in (("ca_file", self.ca_file), ("cert_file", self.cert_file),
                            ("key_file", self.key_file)):  # fmt: skip
            if path is not None and not path.is_file():
                raise ValueError(f"{label}: file not found: {path}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")


class MqttSubscription(Strict):
    """A topic filter and how its payloads map to records."""

    topic: str = Field(min_length=1)
    qos: Literal[0, 1, 2] = 1
    exclude: list[str] = []
    signal: str = Field(min_length=1)
    equipment: str | None = None
    value: str = "value"
    timestamp: str | None = None
    quality: str | None = None
    batch: str | None = None
    unit: str | None = None  # optional extension
    data_type: str | None = None  # optional extension
    deadband: DeadbandConfig | None = None  # optional extension

    @field_validator("topic", "exclude")
    @classmethod
    def _filter(cls, value: str | list[str]) -> str | list[str]:
        for topic in [value] if isinstance(value, str) else value:
            levels = topic.split("/")
            for n, level in enumerate(levels):
                if "#" in level and (level != "#" or n != len(levels) - 1):
                    raise ValueError(f"{topic!r}: '#' must be a whole last level")
                if "+" in level and level != "+":
                    raise ValueError(f"{topic!r}: '+' must be a whole level")
        return value

    @model_validator(mode="after")
    def _templates(self) -> MqttSubscription:
        for label, template in (("signal", self.signal), ("equipment", self.equipment)):
            for name in TEMPLATE_FIELD.findall(template or ""):
                if name == "" or (not name.isdigit() and self.batch is None and name != "topic"):
                    raise ValueError(
                        f"{label}: {{{name}}} is not a topic level; element fields need batch"
                    )
        return self


class MqttDevice(DeviceBase):
    """`protocol: mqtt`."""

    protocol: Literal["mqtt"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    client_id: str | None = Field(default=None, min_length=1, max_length=128)
    tls: bool | MqttTls = False
    username: str | None = None
    password_env: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)  # optional extension
    session_expiry_s: int = Field(default=7 * 86400, ge=0)  # optional extension
    share_group: str | None = Field(default=None, pattern=SHARE_NAME, max_length=64)  # extension
    subscriptions: list[MqttSubscription] = Field(min_length=1)


Device = Annotated[OpcuaDevice | ModbusDevice | MqttDevice, Field(discriminator="protocol")]


class SignalMeta(Strict):
    """`signals:` entry: metadata for a signal the tags create."""

    data_type: str | None = None
    unit: str | None = None
    description: str | None = None


class GatewayConfig(Strict):
    """The whole file."""

    version: Literal[1]
    gateway: GatewaySection
    batch: BatchSection = BatchSection()
    spool: SpoolSection = SpoolSection()
    live: LiveSection = LiveSection()
    devices: list[Device] = Field(min_length=1)
    signals: dict[str, SignalMeta] = {}

    @model_validator(mode="after")
    def _unique(self) -> GatewayConfig:
        seen: dict[str, int] = {}
        for n, device in enumerate(self.devices):
            if device.name in seen:
                raise ValueError(
                    f"devices[{n}].name: duplicate device name {device.name!r} "
                    f"(also devices[{seen[device.name]}])"
                )
            seen[device.name] = n
        return self

    @model_validator(mode="after")
    def _workers(self) -> GatewayConfig:
        workers = self.gateway.workers
        longest = len(f"{self.gateway.id}-w{workers - 1}")
        if workers > 1 and longest > 64:
            raise ValueError(
                f"gateway.id: too long for {workers} workers (worker ids '{self.gateway.id}-wN' "
                "must fit 64 characters)"
            )
        for n, device in enumerate(self.devices):
            if device.worker is not None and device.worker >= workers:
                raise ValueError(
                    f"devices[{n}].worker: {device.worker} is not a worker of this gateway "
                    f"(gateway.workers is {workers}: 0 to {workers - 1})"
                )
        return self
