from burnrate_notifier.domain.recipients import (
    ContactInfo,
    Recipient,
    Role,
    resolve_recipients,
    supported_language,
)

CONTACTS = [
    ContactInfo("Ann", "ann@acme.example", "nl"),
    ContactInfo("Bob", "bob@acme.example", "en"),
]


def resolve(**kw):
    args = {
        "owner": True,
        "customer_contacts": False,
        "emails": [],
        "owner_email": "owner@msp.example",
        "contacts": CONTACTS,
    }
    return resolve_recipients(**(args | kw))


def test_owner_only():
    assert resolve() == [Recipient("owner@msp.example", "en", Role.OWNER)]


def test_owner_contacts_and_extras_in_order_with_their_languages():
    assert resolve(customer_contacts=True, emails=["finance@acme.example"]) == [
        Recipient("owner@msp.example", "en", Role.OWNER),
        Recipient("ann@acme.example", "nl", Role.CONTACT, "Ann"),
        Recipient("bob@acme.example", "en", Role.CONTACT, "Bob"),
        Recipient("finance@acme.example", "en", Role.EXTRA),
    ]


def test_contacts_are_ignored_unless_the_audience_asks_for_them():
    assert resolve(owner=False, emails=["x@y.example"]) == [
        Recipient("x@y.example", "en", Role.EXTRA)
    ]


def test_duplicates_by_address_collapse_case_insensitively():
    recipients = resolve(
        customer_contacts=True,
        emails=["BOB@acme.example", "Owner@MSP.example", "bob@acme.example"],
    )
    assert [r.address for r in recipients] == [
        "owner@msp.example",
        "ann@acme.example",
        "bob@acme.example",
    ]


def test_a_contacts_language_wins_over_the_assumed_english():
    recipients = resolve(
        owner_email="ann@acme.example", customer_contacts=True, emails=["ANN@acme.example"]
    )
    assert recipients == [
        Recipient("ann@acme.example", "nl", Role.OWNER, "Ann"),
        Recipient("bob@acme.example", "en", Role.CONTACT, "Bob"),
    ]


def test_nobody_in_the_audience():
    assert resolve(owner=False) == []


def test_unsupported_languages_fall_back_to_english():
    assert [supported_language(v) for v in ("nl", "NL", "de", "", None)] == [
        "nl",
        "nl",
        "en",
        "en",
        "en",
    ]
    recipients = resolve(
        owner=False, customer_contacts=True, contacts=[ContactInfo("Eva", "eva@x.example", "fr")]
    )
    assert recipients == [Recipient("eva@x.example", "en", Role.CONTACT, "Eva")]
