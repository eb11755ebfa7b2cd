"""A lost answer on the last attempt: one confirming request with the same key, never FAILED while sent."""

from __future__ import annotations

import pytest
from send_builders import email_notification, sms_notification
from send_harness import Harness

from workers.notification_send.models import Accepted, SendOutcome
from workers.shared.errors import AnswerLostError, RetryableVendorError
from workers.shared.models import NotificationRecord
from workers.shared.statuses import NotificationStatus

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def lost() -> AnswerLostError:
    return AnswerLostError("sms-service", "no response within 2 s")


def unavailable() -> RetryableVendorError:
    return RetryableVendorError("sms-service", "Service Unavailable", status_code=503)


def attempt_until_settled(harness: Harness, notification: NotificationRecord) -> list[SendOutcome]:
    """Handle the notification's stream changes (one 5-minute invocation each) until it stops retrying."""
    outcomes = [harness.sender(seconds_left=300).handle(harness.change(notification, event_name="INSERT"))]
    while outcomes[-1] is SendOutcome.RETRY:
        outcomes.append(harness.sender(seconds_left=300).handle(harness.change(notification)))
    return outcomes


def test_a_lost_answer_on_the_last_attempt_is_confirmed_with_one_more_request(harness: Harness) -> None:
    # Given an SMS whose two first attempts fail and whose third (the last of 3) gets no answer,
    # though the service took it: the same-key repeat answers with the message's id
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable(), lost(), Accepted("SM-first")]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then the lost answer earned one confirming request, which recorded the message it had sent
    assert outcomes == [SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.TRIGGERED]
    stored = harness.stored(notification)
    assert (stored.status.id, stored.message_id, stored.send_attempts) == (
        NotificationStatus.TRIGGERED,
        "SM-first",
        4,
    )
    assert stored.errors[-1].answer_lost is True
    assert [error.answer_lost for error in stored.errors[:2]] == [None, None]


def test_a_confirmation_that_fails_too_ends_failed(harness: Harness) -> None:
    # Given an SMS whose last attempt and its confirmation both get no answer
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable(), lost(), lost()]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then there was exactly one confirmation: FAILED after four requests
    assert outcomes[-1] is SendOutcome.FAILED
    assert len(harness.channel.calls) == 4
    stored = harness.stored(notification)
    assert stored.status.id is NotificationStatus.FAILED
    assert stored.send_attempts == 4
    assert (stored.errors[-1].reason, stored.errors[-1].answer_lost) == ("no response within 2 s", True)


def test_a_lost_answer_before_the_last_attempt_is_an_ordinary_retry(harness: Harness) -> None:
    # Given an SMS whose first attempt gets no answer, then whose retries fail with 503s
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [lost(), unavailable(), unavailable()]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then no confirmation was added: three requests, FAILED
    assert outcomes[-1] is SendOutcome.FAILED
    assert len(harness.channel.calls) == 3


def test_an_email_whose_last_answer_was_lost_is_not_sent_again(harness: Harness) -> None:
    # Given an email channel (SES has no idempotency key: a repeat could send it twice)
    harness.channel.confirms_lost_answers = False
    notification = email_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable(), lost()]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then it ends FAILED after its three attempts
    assert outcomes[-1] is SendOutcome.FAILED
    assert len(harness.channel.calls) == 3
    assert harness.stored(notification).status.id is NotificationStatus.FAILED
