"""Acts of one instant give one record whatever order they are typed in (attack 35a,
ATTACK35A-9, -16, -13, -7, -12; fix36d): a MAPPA feed message and the case's own acts of its
instant (a custody release PATCHed or recorded as an event, a release date, custody), a
transfer in and a transfer out, a PATCH of the case's fields and a judgement, a transfer in
and a judgement. The one order of an instant (docs/integrating.md §7,
app.domain.replay.SAME_INSTANT): the feeds' messages, then the case's events and changes of
its fields, then the panels' decisions, then the judgements; at one instant a transfer in
before a transfer out.

Each test types the acts in both orders on a new case (tests.api.instant_support) and
checks that both leave the same record (fields, every step the history shows, the timeline),
then what that record is.

Dates: Tue 24 Nov 2026 10:00 UTC (London on GMT, no bank holiday near); cases opened Mon 2 Nov
2026; custody recorded Tue 3 Nov with an expected release on Mon 1 March 2027 (six months before
it, Tue 1 Sep 2026, already past).
"""

from __future__ import annotations

from tests.api.instant_support import (
    codes_in_history,
    event,
    mappa,
    own,
    patched,
    steps_of,
    title_of,
    whole_in_every_order,
)
from tests.conftest import Tenant

T = "2026-11-24T10:00:00Z"
HOLDER, MANAGER = "case_holder-1", "line_manager-1"
IN_CUSTODY = (patched("2026-11-03T10:00:00Z", in_custody=True,
                      expected_release_date="2027-03-01"),)
MAPPA_REF = "Referrals into MAPPA"
AT_ONCE = [("case_holder", HOLDER, T, True, "W16", MAPPA_REF)]


async def test_W16_category_2_message_at_the_instant_of_a_release_patch(
        wokingham: Tenant) -> None:
    """W16 (Wokingham "Referrals into MAPPA", ATTACK35A-9): "Category 2 referrals (i.e. for
    children in custody), the referral into MAPPA must be completed six months prior to their
    release into the community." The child in custody (release expected 1 March 2027); MAPPA's
    category 2 message and the release (PATCH in_custody false) both at 10:00 on 24 Nov 2026:
    the message comes first, so the child released owes the H form at once (due at the
    release, urgent), typed in either order (typed the release first, it was undated)."""
    got = await whole_in_every_order(wokingham, [
        mappa(T, mappa_category=2), patched(T, in_custody=False)], before=IN_CUSTODY)
    assert steps_of(got, "mappa_h_notification") == AT_ONCE


async def test_W16_category_2_message_at_the_instant_of_a_custody_release_event(
        wokingham: Tenant) -> None:
    """W16 (ATTACK35A-9, the event twin): "Category 2 referrals (i.e. for children in custody),
    the referral into MAPPA must be completed six months prior to their release into the
    community." The category 2 message and a custody_release event at 10:00 on 24 Nov 2026:
    the H form is due at once, in either order."""
    got = await whole_in_every_order(wokingham, [
        mappa(T, mappa_category=2), event(T, "custody_release")], before=IN_CUSTODY)
    assert steps_of(got, "mappa_h_notification") == AT_ONCE


async def test_W16_category_2_message_at_the_instant_of_a_new_release_date(
        wokingham: Tenant) -> None:
    """W16 (ATTACK35A-9, the release date twin): "the referral into MAPPA must be completed
    six months prior to their release into the community". The category 2 message and a new
    expected release date of 15 Jan 2027 at 10:00 on 24 Nov 2026: six months before either
    date is past, the H form is due at once, with the same note, in either order."""
    got = await whole_in_every_order(wokingham, [
        mappa(T, mappa_category=2), patched(T, expected_release_date="2027-01-15")],
        before=IN_CUSTODY)
    assert steps_of(got, "mappa_h_notification") == AT_ONCE


async def test_W5_no_report_raised_by_the_feed_at_the_instant_of_custody(
        wokingham: Tenant) -> None:
    """W5, W4, W16 (Wokingham "Internal and External Controls", "Referrals into MAPPA";
    ATTACK35A-16): the change of circumstances is recorded (W4) and reported to the line
    manager (W5), who needs no report of what they recorded themselves; "Category 2
    referrals (i.e. for children in custody), the referral into MAPPA must be completed six
    months prior to their release". The line manager records custody (release expected
    1 June 2027) and MAPPA's category 2 message arrives, both at 10:00 on 24 Nov 2026: no
    report to the line manager ever (typed custody first, the feed's replay raised one, "by
    mappa-feed"), IYSS entry by the end of the next working day, the H form due by the end of
    Tue 1 Dec 2026 (six months before the release), in either order."""
    got = await whole_in_every_order(wokingham, [
        mappa(T, mappa_category=2),
        patched(T, in_custody=True, expected_release_date="2027-06-01")])
    assert "report_to_line_manager" not in codes_in_history(got)
    assert steps_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-11-25T23:59:59Z", False, "W4",
         "Internal and External Controls")]
    assert steps_of(got, "mappa_h_notification") == [
        ("case_holder", HOLDER, "2026-12-01T23:59:59Z", False, "W16", MAPPA_REF)]


async def test_S30_S31_transfer_in_and_transfer_out_at_one_instant(somerset: Tenant) -> None:
    """S30, S31 (Somerset 13.4.1: "the Somerset YJT case holder will ensure that all the
    relevant documentation is up to date and included with the transfer/care taking request";
    13.4.2: "The line manager will check all documentation and sign off relevant ASSETPLUS
    stage"; ATTACK35A-13). A transfer in and a transfer out (the child transferring on Mon 30
    Nov) both at 10:00 on 24 Nov 2026: the transfer out names a date ahead, so the transfer in
    is the arrival it follows, not the child back from it: the documentation is owed before
    the transfer, in either order (typed the transfer out first, the transfer in ended it)."""
    got = await whole_in_every_order(somerset, [
        event(T, "transfer_in", details={"from": "Dorset YJS"}),
        event(T, "transfer_out", transfer_date="2026-11-30")])
    assert steps_of(got, "prepare_transfer_documentation") == [
        ("case_holder", HOLDER, "2026-11-30T00:00:00Z", False, "S30", "13.4.1")]
    assert steps_of(got, "sign_off_transfer_documentation") == [
        ("line_manager", MANAGER, "2026-11-30T00:00:00Z", False, "S31", "13.4.2")]


async def test_S14_release_patch_at_the_instant_of_a_high(somerset: Tenant) -> None:
    """S14 (Somerset 2.1: reviewed "sooner upon any significant change becoming known"; 4.2's
    next working day from a medium rating on; the Somerset twin of ATTACK35A-9: a custody
    release PATCH and a judgement). The child in custody since 3 Nov; the release (PATCH
    in_custody false) and a ROSH high both at 10:00 on 24 Nov 2026: the release comes before the
    judgement of its instant, on a case not yet rated, so the open review stays 2.1's, undated,
    in either order (typed the high first, the release re-dated it to the next working day)."""
    got = await whole_in_every_order(somerset, [
        patched(T, in_custody=False), own(T, "rosh", "high")], before=IN_CUSTODY)
    assert steps_of(got, "review_assessment") == [
        ("case_holder", HOLDER, None, False, "S14", "2.1")]


async def test_S17_mappa_level_patch_at_the_instant_of_a_very_high(somerset: Tenant) -> None:
    """S17, S10 (Somerset 7: "all cases which are eligible under MAPPAs Category 1 ...,
    irrespective of assessed ROSH, are brought to MARP"; 7.1.9: "The MARP will decide if cases
    with Very High ROSH judgements need to be referred to MAPPA 2, unless this has already been
    done"; ATTACK35A-12, -7, the MAPPA fields twin). MAPPA category 1 at level 2 (PATCH) and a
    ROSH very high both at 10:00 on 24 Nov 2026: the level comes first, so the MARP has no
    MAPPA level to decide (no S10 step in the history: typed the very high first, one was
    created and superseded at that instant) and the MARP referral is S17's, with its title
    (it kept S7's), in either order."""
    got = await whole_in_every_order(somerset, [
        patched(T, mappa_category=1, mappa_level=2), own(T, "rosh", "very_high")])
    assert "identify_mappa_level" not in codes_in_history(got)
    assert steps_of(got, "refer_to_panel") == [
        ("case_holder", HOLDER, None, False, "S17", "7")]
    assert title_of(got, "refer_to_panel") == [
        "Bring the MAPPA category 1 case to the MARP (irrespective of assessed ROSH)"]


async def test_S42_transfer_in_at_high_and_own_medium_at_one_instant(somerset: Tenant) -> None:
    """S42, S11, S41 (Somerset 13.3: "Where a case has a ROSH judgment ... of High or Very high
    from another YJT, the case will be referred into the next available MARP"; ATTACK35A-7, the
    transfer twin). A transfer in at high ROSH and Somerset's own ROSH medium both at 10:00 on
    24 Nov 2026: the own judgement answers the incoming rating at the arrival's instant, so
    the own-judgement step and the high's monthly reviews were never owed: none is in the
    case's history (typed the arrival first, each was created and superseded at 10:00), in
    either order; the incoming documentation is checked at once (S36)."""
    got = await whole_in_every_order(somerset, [
        event(T, "transfer_in", details={"from": "Dorset YJS"}, incoming_ratings={"rosh": "high"}),
        own(T, "rosh", "medium")])
    assert not codes_in_history(got) & {
        "record_own_judgement", "monthly_manager_review", "discuss_register_monthly"}
    assert steps_of(got, "check_incoming_documentation") == [
        ("line_manager", MANAGER, T, True, "S36", "13.2")]
