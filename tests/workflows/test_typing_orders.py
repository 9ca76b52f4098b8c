"""The order tests' sample of typing orders (tests/orders.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.orders import typing_orders


@pytest.mark.parametrize("n", [1, 2, 3])
def test_up_to_three_acts_are_typed_in_every_order(n: int) -> None:
    acts = list(range(n))
    assert typing_orders(acts) == list(itertools.permutations(acts))


@pytest.mark.parametrize("n", [4, 5, 6])
def test_more_acts_are_sampled_covering_every_pair_both_ways_and_every_late_act(
        n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YJ_ALL_ORDERS", raising=False)
    acts = [f"act{i}" for i in range(n)]
    orders = typing_orders(acts)
    assert orders[0] == tuple(acts)  # time order first
    assert len(set(orders)) == len(orders) == 3 * n - 3
    for a, b in itertools.permutations(acts, 2):  # every pair typed both ways round
        assert any(o.index(a) < o.index(b) for o in orders)
    for act in acts:  # every act typed last (back-dated, typed late) and first
        assert any(o[-1] == act for o in orders)
        assert any(o[0] == act for o in orders)
    assert typing_orders(acts) == orders  # deterministic


def test_every_order_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YJ_ALL_ORDERS", "1")
    assert len(typing_orders(range(5))) == 120


def test_orders_a_person_could_not_type_are_left_out_and_the_rest_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YJ_ALL_ORDERS", raising=False)

    def signed_after_written(order: tuple[str, ...]) -> bool:
        return order.index("signed") > order.index("written")

    four = typing_orders(["judged", "written", "signed", "later"], signed_after_written)
    assert len(four) == 12  # every one a person could type
    five = typing_orders(["judged", "written", "signed", "later", "panel"], signed_after_written)
    assert len(set(five)) == len(five) == 12
    assert all(signed_after_written(o) for o in five)
    assert five[0] == ("judged", "written", "signed", "later", "panel")
