"""Load the demo plant through the domain services (so every record is validated and audited as
"Demo data loader"). Idempotent: every step looks for what it would create, by code, and
leaves existing data alone; a second run creates nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.principal import Principal, Role
from core.bom import service as bom
from core.bom.models import Bom
from core.bom.schemas import BomActivate, BomCreate, BomLineCreate
from core.calendar import service as calendar
from core.calendar.models import CalendarAssignment, ShiftPattern
from core.calendar.schemas import AssignmentCreate, PatternCreate, ShiftIn
from core.demo import plant
from core.downtime import service as downtime
from core.downtime.models import DowntimeEvent, DowntimeReason, DowntimeSource
from core.downtime.schemas import ReasonCreate
from core.equipment import service as equipment
from core.equipment.models import Equipment, EquipmentCycleTime
from core.equipment.schemas import CycleTimeSet, EquipmentCreate
from core.inventory import locations as inventory_locations
from core.inventory import service as inventory
from core.inventory.models import InventoryTransaction, Location
from core.inventory.schemas import LocationCreate, ReceiptCreate
from core.items import service as items
from core.items.models import Item
from core.items.schemas import ItemCreate
from core.plans import service as plans
from core.plans.models import ProductionPlan
from core.plans.schemas import PlanCreate, PlanLineCreate, ReleaseRequest
from core.processes import service as routings
from core.processes.models import Routing
from core.processes.schemas import OperationCreate, RoutingCreate
from core.quality import plans as inspection_plans
from core.quality.models import InspectionPlan
from core.quality.schemas import CharacteristicCreate
from core.quality.schemas import PlanCreate as InspectionPlanCreate
from core.work_orders import flows
from core.work_orders import service as work_orders
from core.work_orders.models import WorkOrder, WorkOrderAction
from core.work_orders.schemas import (
    CompleteRequest,
    DispatchRequest,
    ReportCreate,
    WorkOrderCreate,
)

LOADER = Principal(
    subject="system:demo-loader",
    username="demo-loader",
    name="Demo data loader",
    roles=frozenset({Role.ADMIN}),
)
RECEIPT_REFERENCE = "DEMO-LOAD"
PLAN_CODE = "MPS-DEMO"
RUSH_ORDER = "WO-DEMO-RUSH"


class Loader:
    """One loading run over a session; counts what it created and what it found."""

    def __init__(self, session: AsyncSession, *, today: date) -> None:
        self.session = session
        self.today = today
        self.created: Counter[str] = Counter()
        self.found: Counter[str] = Counter()
        self.item_ids: dict[str, int] = {}
        self.equipment_ids: dict[str, int] = {}
        self.location_ids: dict[str, int] = {}

    async def _once(self, kind: str, exists: Any, create: Callable[[], Awaitable[Any]]) -> bool:
        """Run `create` unless `exists` (a select) finds something; True when created."""
        if await self.session.scalar(exists) is not None:
            self.found[kind] += 1
            return False
        await create()
        self.created[kind] += 1
        return True

    async def _ids(self, model: Any) -> dict[str, int]:
        rows = await self.session.execute(select(model.code, model.id))
        return {code: ident for code, ident in rows}

    # --- master data -----------------------------------------------------------------------

    async def load_items(self) -> None:
        for d in plant.ITEMS:
            data = ItemCreate.model_validate(asdict(d))
            await self._once(
                "items",
                select(Item.id).where(Item.code == d.code),
                partial(items.create, session=self.session, principal=LOADER, data=data),
            )
        self.item_ids = await self._ids(Item)

    async def load_equipment(self) -> None:
        for node in plant.EQUIPMENT:
            ids = await self._ids(Equipment)
            data = EquipmentCreate.model_validate(
                {
                    "code": node.code,
                    "name": node.name,
                    "level": node.level,
                    "parent_id": ids[node.parent] if node.parent else None,
                    "type": node.type,
                    "capabilities": list(node.capabilities),
                    "ideal_cycle_time_s": node.cycle_s,
                }
            )
            await self._once(
                "equipment",
                select(Equipment.id).where(Equipment.code == node.code),
                partial(equipment.create, session=self.session, principal=LOADER, data=data),
            )
        self.equipment_ids = await self._ids(Equipment)
        for node in plant.EQUIPMENT:
            if node.product is None or node.cycle_s is None:
                continue
            eq, item = self.equipment_ids[node.code], self.item_ids[node.product]
            await self._once(
                "cycle times",
                select(EquipmentCycleTime.id).where(
                    EquipmentCycleTime.equipment_id == eq, EquipmentCycleTime.item_id == item
                ),
                partial(
                    equipment.set_cycle_time,
                    session=self.session,
                    principal=LOADER,
                    equipment_id=eq,
                    item_id=item,
                    data=CycleTimeSet(ideal_cycle_time_s=node.cycle_s),
                ),
            )

    async def load_boms(self) -> None:
        for code, lines in plant.BOMS.items():
            item_id = self.item_ids[code]

            async def make(item_id: int = item_id, lines: Any = lines) -> None:
                created = await bom.create(
                    session=self.session,
                    principal=LOADER,
                    data=BomCreate(
                        item_id=item_id,
                        description="demo: initial release",
                        lines=[
                            BomLineCreate(
                                component_item_id=self.item_ids[component],
                                quantity=quantity,
                                scrap_factor=scrap,
                                operation_seq=operation,
                            )
                            for component, quantity, scrap, operation in lines
                        ],
                    ),
                )
                await bom.activate(
                    session=self.session,
                    principal=LOADER,
                    bom_id=created.id,
                    data=BomActivate(effective_from=date(self.today.year, 1, 1)),
                )

            await self._once("BOMs", select(Bom.id).where(Bom.item_id == item_id).limit(1), make)

    async def load_routings(self) -> None:
        for code, (name, steps) in plant.ROUTINGS.items():
            data = RoutingCreate(
                item_id=self.item_ids[code],
                name=name,
                operations=[
                    OperationCreate(
                        sequence=s.sequence,
                        name=s.name,
                        work_center_id=self.equipment_ids[s.line],
                        equipment_type=s.type,
                        setup_time_s=s.setup_s,
                        ideal_cycle_time_s=s.cycle_s,
                    )
                    for s in steps
                ],
            )
            await self._once(
                "routings",
                select(Routing.id).where(Routing.item_id == data.item_id),
                partial(routings.create, session=self.session, principal=LOADER, data=data),
            )

    async def load_calendar(self) -> None:
        data = PatternCreate(
            code=plant.PATTERN_CODE,
            name="Three shifts Mon-Fri, early shift Saturday",
            timezone=plant.TIMEZONE,
            shifts=[ShiftIn.model_validate(s) for s in plant.SHIFTS],
        )
        await self._once(
            "shift patterns",
            select(ShiftPattern.id).where(ShiftPattern.code == data.code),
            partial(calendar.create_pattern, session=self.session, principal=LOADER, data=data),
        )
        pattern_id = await self.session.scalar(
            select(ShiftPattern.id).where(ShiftPattern.code == plant.PATTERN_CODE)
        )
        assert pattern_id is not None
        site = self.equipment_ids["KNU"]
        await self._once(
            "calendar assignments",
            select(CalendarAssignment.id).where(CalendarAssignment.equipment_id == site),
            partial(
                calendar.create_assignment,
                session=self.session,
                principal=LOADER,
                data=AssignmentCreate(
                    equipment_id=site,
                    pattern_id=pattern_id,
                    valid_from=date(self.today.year, 1, 1),
                ),
            ),
        )

    async def load_reasons(self) -> None:
        for r in plant.REASONS:
            ids = await self._ids(DowntimeReason)
            data = ReasonCreate.model_validate(
                {
                    "code": r.code,
                    "name": r.name,
                    "kind": r.kind,
                    "parent_id": ids[r.parent] if r.parent else None,
                    "planned": r.planned,
                    "loss_category": r.loss,
                }
            )
            await self._once(
                "downtime reasons",
                select(DowntimeReason.id).where(DowntimeReason.code == r.code),
                partial(downtime.create_reason, session=self.session, principal=LOADER, data=data),
            )

    async def load_inventory(self) -> None:
        for place in plant.LOCATIONS:
            data = LocationCreate.model_validate(asdict(place))
            await self._once(
                "locations",
                select(Location.id).where(Location.code == place.code),
                partial(
                    inventory_locations.create, session=self.session, principal=LOADER, data=data
                ),
            )
        self.location_ids = await self._ids(Location)

        async def receive_all() -> None:
            for code, where, quantity, lot in plant.RECEIPTS:
                await inventory.receive(
                    session=self.session,
                    principal=LOADER,
                    data=ReceiptCreate(
                        item_id=self.item_ids[code],
                        quantity=quantity,
                        to_location_id=self.location_ids[where],
                        lot_code=lot,
                        reference=RECEIPT_REFERENCE,
                    ),
                )

        await self._once(
            "opening stock",
            select(InventoryTransaction.id)
            .where(InventoryTransaction.reference == RECEIPT_REFERENCE)
            .limit(1),
            receive_all,
        )

    async def load_inspection_plans(self) -> None:
        for d in plant.INSPECTION_PLANS:
            data = InspectionPlanCreate(
                code=d.code,
                name=d.name,
                item_id=self.item_ids[d.item],
                characteristics=[
                    CharacteristicCreate.model_validate({**asdict(c), "position": index})
                    for index, c in enumerate(d.checks)
                ],
            )
            await self._once(
                "inspection plans",
                select(InspectionPlan.id).where(InspectionPlan.code == d.code),
                partial(
                    inspection_plans.create_plan, session=self.session, principal=LOADER, data=data
                ),
            )

    # --- production --------------------------------------------------------------------------

    async def _act(self, order: WorkOrder, *actions: WorkOrderAction) -> None:
        for action in actions:
            await work_orders.transition(
                session=self.session, principal=LOADER, work_order_id=order.id, action=action
            )

    async def _report(self, order: WorkOrder, per_op: list[tuple[str, str]]) -> None:
        fresh = await work_orders.get(self.session, order.id)
        for op, (good, scrap) in zip(fresh.operations, per_op, strict=False):
            await work_orders.report(
                session=self.session,
                principal=LOADER,
                work_order_id=order.id,
                data=ReportCreate(
                    operation_id=op.id,
                    good_quantity=Decimal(good),
                    scrap_quantity=Decimal(scrap),
                    scrap_reason="dimension out of tolerance" if Decimal(scrap) else None,
                ),
            )

    async def _dispatch(self, order: WorkOrder, machines: list[str]) -> None:
        fresh = await work_orders.get(self.session, order.id)
        for op, machine in zip(fresh.operations, machines, strict=False):
            await work_orders.dispatch(
                session=self.session,
                principal=LOADER,
                work_order_id=order.id,
                data=DispatchRequest(equipment_id=self.equipment_ids[machine], operation_id=op.id),
            )

    async def _production(self) -> None:
        monday = self.today - timedelta(days=self.today.weekday())
        plan = await plans.create(
            session=self.session,
            principal=LOADER,
            data=PlanCreate(
                code=PLAN_CODE,
                name=f"Demo master schedule, week of {monday.isoformat()}",
                period_start=monday,
                period_end=monday + timedelta(days=6),
                lines=[
                    PlanLineCreate(
                        item_id=self.item_ids[item],
                        line_id=self.equipment_ids[line],
                        quantity=quantity,
                        due_date=monday + timedelta(days=4),
                    )
                    for item, line, quantity in plant.PLAN_LINES
                ],
            ),
        )
        line_of = {line.item_code: line.id for line in plan.lines}
        orders: list[WorkOrder] = []
        for codes, batch in ((["SHAFT-A100"], 400), (["HOUSING-H200", "PUMP-GP200"], 200)):
            _, released = await plans.release(
                session=self.session,
                principal=LOADER,
                plan_id=plan.id,
                data=ReleaseRequest(
                    line_ids=[line_of[c] for c in codes], batch_size=Decimal(batch)
                ),
            )
            orders += released
        by_item: dict[str, list[WorkOrder]] = {}
        for order in orders:
            by_item.setdefault(order.item_code, []).append(order)
        A = WorkOrderAction
        shaft, housing, pump = (
            by_item["SHAFT-A100"],
            by_item["HOUSING-H200"],
            by_item["PUMP-GP200"],
        )
        done, running, *_ = shaft
        await self._act(done, A.RELEASE, A.START)
        await self._dispatch(done, ["CNC-101", "LATHE-103", "WASH-105"])
        await self._report(done, [("396", "4"), ("394", "2"), ("394", "0")])
        await flows.complete(
            session=self.session,
            principal=LOADER,
            work_order_id=done.id,
            data=CompleteRequest(location_id=self.location_ids["LS-L1"]),
        )
        await self._act(running, A.RELEASE, A.START)
        await self._dispatch(running, ["CNC-102", "LATHE-103", "WASH-105"])
        await self._report(running, [("180", "3"), ("150", "1"), ("120", "0")])
        await self._act(shaft[2], A.RELEASE)
        paused = housing[0]
        await self._act(paused, A.RELEASE, A.START)
        await self._dispatch(paused, ["MILL-104"])
        await self._report(paused, [("85", "2")])
        await self._act(paused, A.PAUSE)
        await self._act(housing[1], A.RELEASE)
        await self._act(pump[0], A.RELEASE, A.START)
        await self._dispatch(
            pump[0], ["PRESS-201", "ROBOT-202", "SCREW-203", "TEST-204", "PACK-205"]
        )
        await self._report(
            pump[0], [("60", "0"), ("58", "0"), ("58", "0"), ("55", "2"), ("55", "0")]
        )
        rush = await work_orders.create(
            session=self.session,
            principal=LOADER,
            data=WorkOrderCreate(
                code=RUSH_ORDER,
                item_id=self.item_ids["PUMP-GP200"],
                quantity=Decimal(20),
                line_id=self.equipment_ids["L2"],
                priority=10,
                note="customer rush order, cancelled by the customer",
            ),
        )
        await self._act(rush, A.CANCEL)

    async def load_production(self) -> None:
        await self._once(
            "production plans",
            select(ProductionPlan.id).where(ProductionPlan.code == PLAN_CODE),
            self._production,
        )

    async def load_downtime(self) -> None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        events = [
            ("CNC-101", now - timedelta(hours=20), 25, "BD-TOOL", "insert broke on roughing pass"),
            ("MILL-104", now - timedelta(hours=9), 15, "SU-CHANGEOVER", "fixture change"),
            ("ROBOT-202", now - timedelta(hours=5), 4, "MS-JAM", "cover misfeed"),
            ("CNC-101", now - timedelta(hours=3), 30, "PL-PM", "spindle lubrication"),
        ]
        reasons = await self._ids(DowntimeReason)

        async def record() -> None:
            for machine, start, minutes, reason, comment in events:
                await downtime.open_event(
                    session=self.session,
                    principal=LOADER,
                    equipment_id=self.equipment_ids[machine],
                    start_ts=start,
                    end_ts=start + timedelta(minutes=minutes),
                    reason_id=reasons[reason],
                    source=DowntimeSource.MANUAL,
                    comment=comment,
                )
            await self.session.commit()

        await self._once(
            "downtime events",
            select(DowntimeEvent.id)
            .where(DowntimeEvent.equipment_id.in_(self.equipment_ids.values()))
            .limit(1),
            record,
        )


async def load(session: AsyncSession, *, today: date | None = None) -> dict[str, tuple[int, int]]:
    """Load the demo plant; returns {kind: (created, already there)}."""
    loader = Loader(session, today=today or datetime.now(UTC).date())
    await loader.load_items()
    await loader.load_equipment()
    await loader.load_boms()
    await loader.load_routings()
    await loader.load_calendar()
    await loader.load_reasons()
    await loader.load_inventory()
    await loader.load_inspection_plans()
    await loader.load_production()
    await loader.load_downtime()
    kinds = sorted(set(loader.created) | set(loader.found))
    return {k: (loader.created[k], loader.found[k]) for k in kinds}


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per demo entity (for a summary line)."""
    result = {}
    for name, model in (
        ("items", Item),
        ("equipment", Equipment),
        ("BOM versions", Bom),
        ("routings", Routing),
        ("work orders", WorkOrder),
        ("downtime reasons", DowntimeReason),
        ("inspection plans", InspectionPlan),
    ):
        result[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return result
