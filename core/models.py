"""Every ORM model, imported so that `Base.metadata` is complete (migrations compare against it).

Add one import line per domain.
"""

from core.audit import models as audit_models
from core.bom import models as bom_models  # noqa: F401
from core.calendar import models as calendar_models  # noqa: F401
from core.counters import models as counters_models  # noqa: F401
from core.db import Base
from core.downtime import models as downtime_models  # noqa: F401
from core.equipment import models as equipment_models  # noqa: F401
from core.inventory import models as inventory_models  # noqa: F401
from core.items import models as items_models
from core.live import models as live_models  # noqa: F401
from core.oee import models as oee_models  # noqa: F401
from core.plans import models as plans_models  # noqa: F401
from core.processes import models as processes_models  # noqa: F401
from core.quality import models as quality_models  # noqa: F401
from core.states import models as states_models  # noqa: F401
from core.work_orders import models as work_orders_models  # noqa: F401

__all__ = ["Base", "audit_models", "items_models"]
