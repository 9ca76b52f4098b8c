"""The typing orders an order test tries: every order when there are at most twelve (three
acts, or four with some orders impossible: a countersignature before its writing); for more,
a covering sample, unless ``YJ_ALL_ORDERS=1`` asks for every permutation (a long run: 24
orders of four acts, 120 of five, each on a case of its own).

The sample keeps what the exhaustive sweeps found bugs with (sessions 31-36): the time order
first, its reverse (every pair of acts typed both ways round), each act typed last (the
back-dated act typed late: the practitioner's common case), each act typed first, and each
neighbouring pair swapped: for four acts 9 orders instead of 24, for five 12 instead of 120.
Deterministic, so a failure names an order that reproduces it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

EVERY_ORDER_UP_TO = 12


def typing_orders(acts: Sequence[T], allowed: Callable[[tuple[T, ...]], bool] | None = None
                  ) -> list[tuple[T, ...]]:
    """Orders of ``acts`` (given in time order) to type them in; the first is time order.
    ``allowed``: which orders a person could type (the rest are never tried)."""
    acts = tuple(acts)
    permitted = [o for o in itertools.permutations(acts) if allowed is None or allowed(o)]
    if len(permitted) <= EVERY_ORDER_UP_TO or os.environ.get("YJ_ALL_ORDERS") == "1":
        return permitted
    n = len(acts)
    index_orders: list[tuple[int, ...]] = [tuple(range(n)), tuple(reversed(range(n)))]
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        index_orders.append((*rest, i))  # act i typed last
        index_orders.append((i, *rest))  # act i typed first
    for i in range(n - 1):
        swapped = list(range(n))
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
        index_orders.append(tuple(swapped))
    chosen: list[tuple[T, ...]] = []
    for index_order in index_orders:
        order = tuple(acts[j] for j in index_order)
        if order not in chosen and (allowed is None or allowed(order)):
            chosen.append(order)
    # Where ``allowed`` ruled some out, as many more of the permitted, spread over them.
    spare = [o for o in permitted if o not in chosen]
    want = 3 * n - 3 - len(chosen)
    if want > 0 and spare:
        step = max(1, len(spare) // want)
        chosen.extend(spare[::step][:want])
    return chosen
