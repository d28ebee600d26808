"""The OEE API tests run on the live plant and engine of tests/core/live."""

from tests.core.live.conftest import admin, drive, plant

__all__ = ["admin", "drive", "plant"]
