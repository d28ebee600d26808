"""Connection settings for the PostgreSQL/TimescaleDB server shared by the API and the gateway."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr

from mes_common.settings import MesSettings


class DatabaseSettings(MesSettings):
    """Where the database is and how to log in (`MES_DB_*`)."""

    db_host: str = Field(min_length=1)
    db_port: int = Field(ge=1, le=65535)
    db_name: str = Field(min_length=1)
    db_user: str = Field(min_length=1)
    db_password: SecretStr
    db_connect_timeout: float = Field(gt=0)

    def conninfo(self, *, dbname: str | None = None) -> str:
        """libpq connection string (psycopg)."""
        pw = self.db_password.get_secret_value().replace("\\", "\\\\").replace("'", "\\'")
        return (
            f"host={self.db_host} port={self.db_port} dbname={dbname or self.db_name} "
            f"user={self.db_user} password='{pw}' connect_timeout={int(self.db_connect_timeout)}"
        )

    def sqlalchemy_url(self, *, driver: str = "psycopg") -> str:
        """SQLAlchemy URL for the psycopg 3 dialect."""
        pw = quote(self.db_password.get_secret_value(), safe="")
        return (
            f"postgresql+{driver}://{quote(self.db_user, safe='')}:{pw}"
            f"@{self.db_host}:{self.db_port}/{self.db_name}"
        )

    def describe(self) -> str:
        """Where the database is, naming the settings (no password)."""
        return (
            f"MES_DB_HOST={self.db_host} MES_DB_PORT={self.db_port} "
            f"MES_DB_NAME={self.db_name} MES_DB_USER={self.db_user}"
        )


def check_reachable(settings: DatabaseSettings) -> None:
    """Connect once; raise ConfigError naming the settings when the server cannot be reached."""
    import psycopg

    from mes_common.settings import ConfigError

    try:
        with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"configuration error: cannot reach the database at {settings.describe()}: {reason}"
        ) from err


class TelemetrySettings(DatabaseSettings):
    """Database settings plus telemetry storage choices (`MES_TIMESCALEDB`, `MES_TELEMETRY_*`)."""

    timescaledb: Literal["auto", "on", "off"]
    telemetry_partition_days_ahead: int = Field(ge=1, le=366)
    telemetry_retention_days: int = Field(ge=1)
    telemetry_compress_after_days: int = Field(ge=1)
    telemetry_maintenance_interval: float = Field(gt=0)
