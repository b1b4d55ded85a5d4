from burnrate_notifier.domain.limits import MailDecision, Suppressed, decide_mails
from burnrate_notifier.domain.recipients import Recipient, Role
from hypothesis import given
from hypothesis import strategies as st

OWNER = Recipient("Owner@MSP.example", "en", Role.OWNER)
ANN = Recipient("ann@acme.example", "nl", Role.CONTACT, "Ann")


def test_opted_out_and_over_the_limit_are_suppressed_case_insensitively():
    decisions = decide_mails(
        [OWNER, ANN],
        opted_out={"ann@acme.example"},
        mails_so_far={"owner@msp.example": 10},
        limit=10,
    )
    assert decisions == [
        MailDecision(OWNER, Suppressed.MAIL_LIMIT),
        MailDecision(ANN, Suppressed.OPTED_OUT),
    ]


def test_under_the_limit_is_sent():
    assert decide_mails([OWNER], opted_out=set(), mails_so_far={"owner@msp.example": 9}, limit=10)[
        0
    ] == MailDecision(OWNER, None)


@given(
    limit=st.integers(1, 20),
    alerts=st.lists(st.sets(st.sampled_from(["a@x.example", "b@x.example", "c@x.example"]))),
)
def test_a_flood_of_alerts_never_sends_more_than_the_limit_to_one_address(limit, alerts):
    sent: dict[str, int] = {}
    for addresses in alerts:
        recipients = [Recipient(a, "en", Role.EXTRA) for a in sorted(addresses)]
        for d in decide_mails(recipients, opted_out=set(), mails_so_far=sent, limit=limit):
            if d.suppressed is None:
                sent[d.recipient.address] = sent.get(d.recipient.address, 0) + 1
    for address in {"a@x.example", "b@x.example", "c@x.example"}:
        expected = min(sum(address in a for a in alerts), limit)
        assert sent.get(address, 0) == expected
