"""The one "status never goes backwards" rule, and the lines each kind of record moves along.

A record's status has a rank on its line; a version with a lower rank is behind the stored one (platforms
give whole seconds, so versions from the same second are told apart by how far they got). Statuses of equal
rank (a shipment out for delivery, or in exception) replace each other unless the incoming one is stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from mappings.canonical import OrderStatus, PaymentStatus, ReturnStatus, ShipmentStatus

S = TypeVar("S", bound=Enum)


@dataclass(frozen=True)
class Progress:
    """A line of statuses by rank (statuses off the line rank 0)."""

    ranks: dict[str, int]

    @classmethod
    def of(cls, *steps: Enum | tuple[Enum, ...]) -> Progress:
        """Statuses in order; a tuple is one step of equals."""
        ranks: dict[str, int] = {}
        for rank, step in enumerate(steps):
            for status in step if isinstance(step, tuple) else (step,):
                ranks[status.value] = rank
        return cls(ranks)

    def rank(self, status: Enum | str | None) -> int:
        return self.ranks.get(status.value if isinstance(status, Enum) else status or "", 0)

    def behind(self, incoming: Enum | str, stored: Enum | str | None) -> bool:
        """Whether ``incoming`` is short of where ``stored`` has got."""
        return self.rank(incoming) < self.rank(stored)

    def furthest(self, statuses: Iterable[S]) -> S:
        return max(statuses, key=self.rank)

    def next(self, old: S, new: S, stale: bool) -> S:
        """The status after a report of ``new``: never backwards; between equals the newer report wins."""
        if self.behind(new, old) or (stale and self.rank(new) == self.rank(old)):
            return old
        return new


# an order's status as its channel states it: two versions from the same second are told apart by it
ORDER_LIFECYCLE = Progress.of(OrderStatus.PENDING, OrderStatus.PARTIALLY_PAID, OrderStatus.PAID,
                              OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.DELIVERED,
                              OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.CANCELLED)
# how far the hub has seen an order get (payments and shipments): the hub never moves it back along this line
ORDER_PROGRESS = Progress.of(OrderStatus.PENDING, OrderStatus.PARTIALLY_PAID, OrderStatus.PAID,
                             OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
PAYMENT_PROGRESS = Progress.of((PaymentStatus.AUTHORIZED, PaymentStatus.FAILED), PaymentStatus.CAPTURED,
                               PaymentStatus.PARTIALLY_REFUNDED, (PaymentStatus.REFUNDED, PaymentStatus.DISPUTED))
SHIPMENT_PROGRESS = Progress.of(ShipmentStatus.PRE_TRANSIT, ShipmentStatus.IN_TRANSIT,
                                (ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.EXCEPTION), ShipmentStatus.DELIVERED,
                                ShipmentStatus.RETURNED)
# a return: asked for, approved, then ended one way or another (only the channel's reopen goes back)
RETURN_PROGRESS = Progress.of(ReturnStatus.REQUESTED, ReturnStatus.OPEN,
                              (ReturnStatus.CLOSED, ReturnStatus.DECLINED, ReturnStatus.CANCELED))
