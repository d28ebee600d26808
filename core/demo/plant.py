"""The demo plant as data (docs/demo-plant.md): the same equipment codes, machine types and
ideal cycle times as the simulators' `demo` scenario, plus the master data around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

D = Decimal


@dataclass(frozen=True)
class Node:
    """A node of the equipment hierarchy."""

    code: str
    name: str
    level: str
    parent: str | None = None
    type: str | None = None
    product: str | None = None
    cycle_s: Decimal | None = None
    capabilities: tuple[str, ...] = ()


EQUIPMENT: tuple[Node, ...] = (
    Node("KNU", "KNU Smart Factory", "site"),
    Node("MACH", "Machining", "area", "KNU"),
    Node("ASSY", "Assembly", "area", "KNU"),
    Node("L1", "Shaft machining line", "line", "MACH"),
    Node("L2", "Gear pump assembly line", "line", "ASSY"),
    Node(
        "CNC-101",
        "CNC turning centre 1",
        "machine",
        "L1",
        "cnc",
        "SHAFT-A100",
        D(30),
        ("turning", "threading"),
    ),
    Node(
        "CNC-102",
        "CNC turning centre 2",
        "machine",
        "L1",
        "cnc",
        "SHAFT-A100",
        D(30),
        ("turning", "threading"),
    ),
    Node(
        "LATHE-103",
        "Finishing lathe",
        "machine",
        "L1",
        "lathe",
        "SHAFT-A100",
        D(20),
        ("turning", "finishing"),
    ),
    Node(
        "MILL-104",
        "Milling machine",
        "machine",
        "L1",
        "mill",
        "HOUSING-H200",
        D(45),
        ("milling", "drilling"),
    ),
    Node("WASH-105", "Parts washer", "machine", "L1", "washer", "SHAFT-A100", D(15), ("washing",)),
    Node("PRESS-201", "Servo press", "machine", "L2", "press", "PUMP-GP200", D(12), ("press_fit",)),
    Node(
        "ROBOT-202",
        "Assembly robot",
        "machine",
        "L2",
        "robot",
        "PUMP-GP200",
        D(18),
        ("assembly", "handling"),
    ),
    Node(
        "SCREW-203",
        "Screwdriving station",
        "machine",
        "L2",
        "screwdriver",
        "PUMP-GP200",
        D(10),
        ("screwdriving",),
    ),
    Node(
        "TEST-204",
        "Leak and function tester",
        "machine",
        "L2",
        "tester",
        "PUMP-GP200",
        D(25),
        ("leak_test", "function_test"),
    ),
    Node(
        "PACK-205", "Packing station", "machine", "L2", "packer", "PUMP-GP200", D(8), ("packing",)
    ),
)


@dataclass(frozen=True)
class ItemDef:
    """An item of the demo master."""

    code: str
    name: str
    type: str
    unit: str
    lot_tracked: bool
    safety_stock: Decimal = Decimal(0)
    lead_time_days: int = 0


ITEMS: tuple[ItemDef, ...] = (
    ItemDef("PUMP-GP200", "Gear pump GP200", "finished", "pcs", True, D(50), 2),
    ItemDef("SHAFT-A100", "Drive shaft A100", "semi_finished", "pcs", True, D(200), 1),
    ItemDef("HOUSING-H200", "Pump housing H200", "semi_finished", "pcs", True, D(100), 1),
    ItemDef("BAR-C45-30", "Steel bar C45 d30 mm", "raw", "m", True, D(100), 10),
    ItemDef("CAST-H200", "Housing casting H200 (EN-GJL-250)", "raw", "pcs", True, D(100), 20),
    ItemDef("GEAR-G20", "Spur gear G20, hardened", "raw", "pcs", True, D(200), 15),
    ItemDef("SEALKIT-S40", "Shaft seal kit S40", "raw", "pcs", True, D(100), 10),
    ItemDef("SCREW-M6X20", "Socket head cap screw M6x20 8.8", "raw", "pcs", False, D(2000), 5),
    ItemDef("BOX-P200", "Shipping carton P200", "consumable", "pcs", False, D(200), 5),
    ItemDef("COOLANT-5", "Cutting fluid, 5 % emulsion", "consumable", "l", False, D(50), 3),
)

# item -> [(component, quantity, scrap factor, routing operation where consumed)]
BOMS: dict[str, list[tuple[str, Decimal, Decimal, int | None]]] = {
    "SHAFT-A100": [
        ("BAR-C45-30", D("0.25"), D("0.02"), 10),
        ("COOLANT-5", D("0.02"), D(0), 10),
    ],
    "HOUSING-H200": [
        ("CAST-H200", D(1), D("0.01"), 10),
        ("COOLANT-5", D("0.05"), D(0), 10),
    ],
    "PUMP-GP200": [
        ("SHAFT-A100", D(2), D(0), 10),
        ("GEAR-G20", D(2), D("0.005"), 10),
        ("HOUSING-H200", D(1), D(0), 20),
        ("SEALKIT-S40", D(1), D(0), 20),
        ("SCREW-M6X20", D(6), D("0.01"), 30),
        ("BOX-P200", D(1), D(0), 50),
    ],
}


@dataclass(frozen=True)
class Step:
    """A routing operation: sequence, name, line, machine type, setup (s), cycle (s)."""

    sequence: int
    name: str
    line: str
    type: str
    setup_s: Decimal
    cycle_s: Decimal


ROUTINGS: dict[str, tuple[str, list[Step]]] = {
    "SHAFT-A100": (
        "Shaft A100: turn, finish, wash",
        [
            Step(10, "Rough turning", "L1", "cnc", D(600), D(30)),
            Step(20, "Finish turning", "L1", "lathe", D(480), D(20)),
            Step(30, "Washing", "L1", "washer", D(300), D(15)),
        ],
    ),
    "HOUSING-H200": (
        "Housing H200: mill bores and faces",
        [Step(10, "Mill faces and bores", "L1", "mill", D(900), D(45))],
    ),
    "PUMP-GP200": (
        "Pump GP200: assemble, test, pack",
        [
            Step(10, "Press-fit gears on shafts", "L2", "press", D(600), D(12)),
            Step(20, "Assemble pump", "L2", "robot", D(300), D(18)),
            Step(30, "Screw cover", "L2", "screwdriver", D(300), D(10)),
            Step(40, "Leak and function test", "L2", "tester", D(300), D(25)),
            Step(50, "Pack", "L2", "packer", D(300), D(8)),
        ],
    ),
}

# Three shifts Monday to Friday and an early shift on Saturday, Korean local time.
TIMEZONE = "Asia/Seoul"
PATTERN_CODE = "KNU-3SHIFT"
SHIFTS = [
    {
        "code": "A",
        "name": "Early",
        "start": "06:00",
        "end": "14:00",
        "days": [1, 2, 3, 4, 5, 6],
        "breaks": [{"name": "Lunch", "start": "11:30", "end": "12:00"}],
    },
    {
        "code": "B",
        "name": "Late",
        "start": "14:00",
        "end": "22:00",
        "days": [1, 2, 3, 4, 5],
        "breaks": [{"name": "Dinner", "start": "18:00", "end": "18:30"}],
    },
    {
        "code": "C",
        "name": "Night",
        "start": "22:00",
        "end": "06:00",
        "days": [1, 2, 3, 4, 5],
        "breaks": [{"name": "Night meal", "start": "02:00", "end": "02:30"}],
    },
]


@dataclass(frozen=True)
class Reason:
    """A node of the downtime reason tree."""

    code: str
    name: str
    kind: str
    parent: str | None = None
    planned: bool = False
    loss: str | None = None


REASONS: tuple[Reason, ...] = (
    Reason("PLANNED", "Planned stops", "category", planned=True),
    Reason("PL-BREAK", "Scheduled break", "reason", "PLANNED", planned=True),
    Reason("PL-PM", "Planned maintenance", "reason", "PLANNED", planned=True),
    Reason("PL-MEETING", "Team meeting / training", "reason", "PLANNED", planned=True),
    Reason("BREAKDOWN", "Breakdowns", "category", loss="equipment_failure"),
    Reason("BD-MECH", "Mechanical failure", "reason", "BREAKDOWN", loss="equipment_failure"),
    Reason(
        "BD-ELEC", "Electrical / control failure", "reason", "BREAKDOWN", loss="equipment_failure"
    ),
    Reason(
        "BD-SPINDLE", "Spindle or bearing failure", "reason", "BREAKDOWN", loss="equipment_failure"
    ),
    Reason("BD-TOOL", "Tool breakage", "reason", "BREAKDOWN", loss="equipment_failure"),
    Reason("SETUP", "Setup and adjustment", "category", loss="setup_adjustment"),
    Reason("SU-CHANGEOVER", "Product changeover", "reason", "SETUP", loss="setup_adjustment"),
    Reason("SU-TOOLCHANGE", "Tool change", "reason", "SETUP", loss="setup_adjustment"),
    Reason(
        "SU-ADJUST",
        "Adjustment after first-piece check",
        "reason",
        "SETUP",
        loss="setup_adjustment",
    ),
    Reason("MINOR", "Minor stops", "category", loss="idling_minor_stops"),
    Reason("MS-JAM", "Part jam / misfeed", "reason", "MINOR", loss="idling_minor_stops"),
    Reason(
        "MS-STARVED", "Starved (no parts upstream)", "reason", "MINOR", loss="idling_minor_stops"
    ),
    Reason("MS-BLOCKED", "Blocked (downstream full)", "reason", "MINOR", loss="idling_minor_stops"),
    Reason("MS-SENSOR", "Sensor fault, reset", "reason", "MINOR", loss="idling_minor_stops"),
)


@dataclass(frozen=True)
class Place:
    """A stock location."""

    code: str
    name: str
    type: str


LOCATIONS: tuple[Place, ...] = (
    Place("WH-RAW", "Raw material warehouse", "warehouse"),
    Place("LS-L1", "Line side L1", "line_side"),
    Place("LS-L2", "Line side L2", "line_side"),
    Place("WH-FG", "Finished goods warehouse", "warehouse"),
    Place("QC-HOLD", "Quality hold", "quarantine"),
)

# (item, location, quantity, lot code or None)
RECEIPTS: tuple[tuple[str, str, Decimal, str | None], ...] = (
    ("BAR-C45-30", "LS-L1", D(400), "H2611-0042"),
    ("BAR-C45-30", "WH-RAW", D(1200), "H2611-0057"),
    ("COOLANT-5", "LS-L1", D(200), None),
    ("CAST-H200", "LS-L1", D(250), "C2611-17"),
    ("GEAR-G20", "LS-L2", D(900), "G2611-A3"),
    ("SEALKIT-S40", "LS-L2", D(500), "S2610-88"),
    ("SCREW-M6X20", "LS-L2", D(6000), None),
    ("BOX-P200", "LS-L2", D(500), None),
    ("SHAFT-A100", "LS-L2", D(300), "SA100-DEMO-01"),
    ("HOUSING-H200", "LS-L2", D(120), "HH200-DEMO-01"),
)


@dataclass(frozen=True)
class Check:
    """A characteristic of an inspection plan."""

    code: str
    name: str
    kind: str
    unit: str | None = None
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    sample_size: int = 1


@dataclass(frozen=True)
class InspectionDef:
    """An inspection plan of the demo."""

    code: str
    name: str
    item: str
    checks: tuple[Check, ...] = field(default=())


INSPECTION_PLANS: tuple[InspectionDef, ...] = (
    InspectionDef(
        "QP-SHAFT-A100",
        "Shaft A100 in-process inspection",
        "SHAFT-A100",
        (
            Check("OD", "Bearing seat diameter", "numeric", "mm", 29.987, 30.000, 29.9935, 5),
            Check("LEN", "Overall length", "numeric", "mm", 179.9, 180.1, 180.0, 5),
            Check("RA", "Surface roughness Ra", "numeric", "um", None, 0.8, None, 5),
            Check("BURR", "Free of burrs", "attribute"),
        ),
    ),
    InspectionDef(
        "QP-HOUSING-H200",
        "Housing H200 bore inspection",
        "HOUSING-H200",
        (
            Check("BORE", "Gear bore diameter", "numeric", "mm", 40.000, 40.025, 40.0125, 3),
            Check("FLAT", "Cover face flatness", "numeric", "mm", None, 0.02, None, 3),
        ),
    ),
    InspectionDef(
        "QP-PUMP-GP200",
        "Pump GP200 final test",
        "PUMP-GP200",
        (
            Check("LEAK", "Leak rate at 10 bar", "numeric", "ml/min", None, 0.5, None, 1),
            Check("FLOW", "Flow at 1450 rpm", "numeric", "l/min", 19.0, 21.0, 20.0, 1),
            Check("NOISE", "Runs quietly", "attribute"),
        ),
    ),
)

PLAN_LINES: tuple[tuple[str, str, Decimal], ...] = (
    ("SHAFT-A100", "L1", D(1600)),
    ("HOUSING-H200", "L1", D(400)),
    ("PUMP-GP200", "L2", D(400)),
)
