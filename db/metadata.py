"""The ORM metadata migrations are compared against (`mes db check`)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData


def target_metadata() -> MetaData | None:
    """The core's model metadata with every domain imported, or None when core is not installed."""
    try:
        models = importlib.import_module("core.models")
    except ModuleNotFoundError:
        return None
    metadata: MetaData = models.Base.metadata
    return metadata
