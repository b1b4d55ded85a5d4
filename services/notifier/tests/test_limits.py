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


def test_an_address_over_its_daily_limit_across_all_rules_is_suppressed():
    decisions = decide_mails(
        [OWNER, ANN],
        opted_out=set(),
        mails_so_far={},
        limit=10,
        mails_today={"ann@acme.example": 50, "owner@msp.example": 49},
        daily_limit=50,
    )
    assert decisions == [
        MailDecision(OWNER, None),
        MailDecision(ANN, Suppressed.ADDRESS_DAILY_LIMIT),
    ]
    # The reasons in order: opted out, then the rule's limit, then the address's day.
    both = decide_mails(
        [ANN],
        opted_out=set(),
        mails_so_far={"ann@acme.example": 10},
        limit=10,
        mails_today={"ann@acme.example": 50},
        daily_limit=50,
    )
    assert both == [MailDecision(ANN, Suppressed.MAIL_LIMIT)]


@given(
    daily_limit=st.integers(1, 20),
    alerts=st.lists(
        st.tuples(
            st.integers(0, 30),  # the rule
            st.sets(st.sampled_from(["a@x.example", "b@x.example"])),
        )
    ),
)
def test_many_rules_never_send_one_address_more_than_its_daily_limit(daily_limit, alerts):
    per_rule: dict[tuple[int, str], int] = {}
    today: dict[str, int] = {}
    for rule, addresses in alerts:
        recipients = [Recipient(a, "en", Role.EXTRA) for a in sorted(addresses)]
        so_far = {a: n for (r, a), n in per_rule.items() if r == rule}
        for d in decide_mails(
            recipients,
            opted_out=set(),
            mails_so_far=so_far,
            limit=10,
            mails_today=today,
            daily_limit=daily_limit,
        ):
            if d.suppressed is None:
                address = d.recipient.address
                per_rule[(rule, address)] = per_rule.get((rule, address), 0) + 1
                today[address] = today.get(address, 0) + 1
    assert all(n <= daily_limit for n in today.values())
