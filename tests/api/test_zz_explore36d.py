import pytest
from tests.api.instant_support import event, mappa, own, patched, whole_in_every_order
from tests.conftest import Tenant

T = "2026-11-24T10:00:00Z"
CUSTODY = (patched("2026-11-03T10:00:00Z", in_custody=True, expected_release_date="2027-03-01"),)
ENTRY = (event("2026-11-03T10:00:00Z", "custody_entry"),)

@pytest.mark.parametrize("name,acts,before", [
    ("w_mappa2_x_release_patch", [mappa(T, mappa_category=2), patched(T, in_custody=False)], CUSTODY),
    ("w_mappa2_x_release_event", [mappa(T, mappa_category=2), event(T, "custody_release")], CUSTODY),
    ("w_mappa2_x_release_date", [mappa(T, mappa_category=2), patched(T, expected_release_date="2027-01-15")], CUSTODY),
    ("w_mappa2_x_custody_patch", [mappa(T, mappa_category=2), patched(T, in_custody=True, expected_release_date="2027-06-01")], ()),
    ("w_transfer", [event(T, "transfer_out", transfer_date="2026-11-30"), event(T, "transfer_in", details={"from": "Dorset YJS"})], ()),
    ("w_transfer_in_high", [event(T, "transfer_out", transfer_date="2026-11-30"), event(T, "transfer_in", incoming_ratings={"rosh": "high"}, details={"from": "Dorset YJS"})], ()),
])
async def test_w(wokingham: Tenant, name, acts, before) -> None:
    await whole_in_every_order(wokingham, acts, before=before)

@pytest.mark.parametrize("name,acts,before", [
    ("s_mappa_x_release_patch", [mappa(T, mappa_category=2), patched(T, in_custody=False)], CUSTODY),
    ("s_release_patch_x_high", [patched(T, in_custody=False), own(T, "rosh", "high")], CUSTODY),
    ("s_mappa_patch_x_high", [patched(T, mappa_category=1, mappa_level=2), own(T, "rosh", "very_high")], ()),
    ("s_transfer_out_x_high", [event(T, "transfer_out", transfer_date="2026-11-30"), own(T, "rosh", "high")], ()),
    ("s_transfer_in_x_high", [event(T, "transfer_in", details={"from": "Dorset YJS"}, incoming_ratings={"rosh": "high"}), own(T, "rosh", "medium")], ()),
    ("s_transfer", [event(T, "transfer_out", transfer_date="2026-11-30"), event(T, "transfer_in", details={"from": "Dorset YJS"})], ()),
])
async def test_s(somerset: Tenant, name, acts, before) -> None:
    await whole_in_every_order(somerset, acts, before=before)
