"""The `poison` drill of the demo: a share of the fans' demand records written malformed.

A broken writer of the fan-facing system could plausibly write each of these shapes (the contract:
docs/contracts/demand.md); the fleet must give no reminder for them and lose nothing else:

- `contact-method-missing`: the item has no `contactMethod`;
- `contact-method-not-a-string`: `contactMethod` written as a number (`N`), not `sms`/`email`;
- `fan-id-malformed`: `fanId` holds a display name ("Fan 00012": whitespace is not allowed);
- `sale-id-not-the-key`: `saleId` holds the sale's display name, not the id of the item's `SK`.

Where they go: the table's change stream carries them like every item, and both table-stream
triggers filter them out (their filters pass event and notification items only), so no shard ever
spends a retry on one. The generator reads a sale's demand through the `demand-by-sale` index,
skips each of these records (`Demand record skipped` with its `pk`/`sk`, `DemandDeviations`
`no-supported-contact-method` or `invalid-record`) and parks it whole in the generation jobs' DLQ
(the item as read, the reason, table and key, and the job that re-drives it). The drill's report
checks that each one was parked with its payload (or at least skipped) and produced no notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sandbox.demo.plan import DemoPlan
from sandbox.drill_faults import POISON, seeded_draw
from workers.shared.models import ContactMethod, DemandRecord, notification_key

POISON_SHAPES: Final = (
    "contact-method-missing",
    "contact-method-not-a-string",
    "fan-id-malformed",
    "sale-id-not-the-key",
)


@dataclass(frozen=True)
class PoisonRecord:
    """A demand record the drill writes malformed: its shape, key and item as written."""

    shape: str
    pk: str
    sk: str
    item: dict[str, Any]


def poison_demand(plan: DemoPlan, *, rate: float, seed: int) -> list[PoisonRecord]:
    """Make `rate` of the plan's demand records (seeded) its poison: malformed, expected to give nothing."""
    if not rate:
        return []
    kept: list[DemandRecord] = []
    poisoned: list[PoisonRecord] = []
    for demand in plan.demand:
        key, name = demand.key, f"{demand.key.pk}|{demand.key.sk}"
        # Only opt-ins of the window's notifiable sales: the generator reads those (and must skip
        # the poison); nothing reads the demand of a registration or suppressed sale at all.
        if not _notifiable(plan, demand) or seeded_draw(seed, POISON, name, 0) >= rate:
            kept.append(demand)
            continue
        shape = POISON_SHAPES[int(seeded_draw(seed, f"{POISON}-shape", name, 0) * len(POISON_SHAPES))]
        poisoned.append(PoisonRecord(shape, key.pk, key.sk, malformed_item(demand, shape)))
        _unexpect(plan, demand)
    plan.demand, plan.poison = kept, poisoned
    return poisoned


def malformed_item(demand: DemandRecord, shape: str) -> dict[str, Any]:
    """The demand record's item as the broken writer writes it in `shape`."""
    item = demand.to_item()
    match shape:
        case "contact-method-missing":
            item.pop("contactMethod", None)
        case "contact-method-not-a-string":
            item["contactMethod"] = 1  # an enum's ordinal where the contract wants "sms"/"email"
        case "fan-id-malformed":
            item["fanId"] = "Fan " + demand.fan_id.rsplit("-", 1)[-1]
        case "sale-id-not-the-key":
            item["saleId"] = demand.sale_id.replace("-", " ").title()
        case _:
            raise ValueError(f"unknown poison shape {shape!r} (have: {', '.join(POISON_SHAPES)})")
    return item


def _notifiable(plan: DemoPlan, demand: DemandRecord) -> bool:
    """Whether the record is expected to give a reminder (an opt-in of a notifiable sale)."""
    return any(
        (key.pk, key.sk) in plan.expected
        for key in (
            notification_key(demand.fan_id, demand.event_id, demand.sale_id, method)
            for method in demand.contact_methods
        )
    )


def _unexpect(plan: DemoPlan, demand: DemandRecord) -> None:
    """Take back the notifications the record would have produced (the inverse of the plan's `_expect`)."""
    for method in demand.contact_methods:
        key = notification_key(demand.fan_id, demand.event_id, demand.sale_id, method)
        if (key.pk, key.sk) in plan.expected:
            plan.expected.discard((key.pk, key.sk))
            if method is ContactMethod.SMS:
                plan.expected_sms -= 1
            else:
                plan.expected_email -= 1
