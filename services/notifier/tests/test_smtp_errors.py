import aiosmtplib
from burnrate_notifier.sender import SendFailure, classify


def refused(*codes):
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(c, "no", "a@b.example") for c in codes]
    )


def test_a_5xx_for_the_recipient_or_the_message_is_permanent():
    assert classify(refused(550)) == SendFailure(True, False, "550 no")
    assert classify(aiosmtplib.SMTPDataError(554, "spam")) == SendFailure(True, False, "554 spam")


def test_a_4xx_is_worth_another_try():
    assert classify(refused(451)) == SendFailure(False, False, "451 no")
    assert classify(aiosmtplib.SMTPDataError(421, "bye")) == SendFailure(False, True, "421 bye")


def test_session_refusals_and_lost_connections_are_transient():
    assert classify(aiosmtplib.SMTPSenderRefused(553, "no", "x@y")).permanent is False
    lost = classify(aiosmtplib.SMTPServerDisconnected("gone"))
    assert (lost.permanent, lost.connection_lost) == (False, True)
    assert classify(ConnectionRefusedError(111, "refused")).connection_lost is True


def test_an_address_the_server_cannot_take_is_permanent():
    assert classify(aiosmtplib.SMTPNotSupported("no SMTPUTF8")).permanent is True
