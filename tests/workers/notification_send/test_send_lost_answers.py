"""Lost SMS answers spend no attempt: the same-key request is repeated until an answer (or the sale) comes."""

from __future__ import annotations

from datetime import timedelta

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

    # Then the lost answer spent no attempt: the repeat recorded the message the service had sent
    assert outcomes == [SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.TRIGGERED]
    stored = harness.stored(notification)
    assert (stored.status.id, stored.message_id, stored.send_attempts) == (
        NotificationStatus.TRIGGERED,
        "SM-first",
        4,
    )
    assert stored.errors[-1].answer_lost is True
    assert [error.answer_lost for error in stored.errors[:2]] == [None, None]


def test_answers_lost_again_and_again_keep_it_retrying_until_one_arrives(harness: Harness) -> None:
    # Given an SMS whose answers are lost four times in a row, then arrive
    notification = sms_notification(sale_start_date_time=harness.clock.datetime() + timedelta(hours=1))
    harness.repository.create_notification(notification)
    harness.channel.script = [lost(), lost(), lost(), lost(), Accepted("SM-1")]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then it was never FAILED while the service might have sent it: TRIGGERED at the fifth request
    assert outcomes[-1] is SendOutcome.TRIGGERED
    assert len(harness.channel.calls) == 5
    assert harness.stored(notification).message_id == "SM-1"


def test_a_lost_answer_spends_no_attempt_but_answered_failures_do(harness: Harness) -> None:
    # Given an SMS whose first answer is lost, then three 503s (3 attempts allowed)
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [lost(), unavailable(), unavailable(), unavailable()]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then the three answered failures spent the attempts: FAILED after four requests
    assert outcomes[-1] is SendOutcome.FAILED
    assert len(harness.channel.calls) == 4
    stored = harness.stored(notification)
    assert (stored.status.id, stored.send_attempts) == (NotificationStatus.FAILED, 4)


def test_answers_lost_until_the_sale_started_end_expired(harness: Harness) -> None:
    # Given an SMS whose sale starts in 2 minutes (grace 5) and whose answers are always lost
    notification = sms_notification(sale_start_date_time=harness.clock.datetime() + timedelta(minutes=2))
    harness.repository.create_notification(notification)
    harness.channel.script = [lost() for _ in range(20)]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then the never-late rule ended the repeats: EXPIRED, after a bounded number of requests
    assert outcomes[-1] is SendOutcome.EXPIRED
    assert harness.stored(notification).status.id is NotificationStatus.EXPIRED
    assert 1 < len(harness.channel.calls) < 20


def test_an_email_whose_last_answer_was_lost_is_not_sent_again(harness: Harness) -> None:
    # Given an email channel (SES has no idempotency key: a repeat could send it twice)
    harness.channel.confirms_lost_answers = False
    notification = email_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable(), lost()]

    # When the sender handles it until it settles
    outcomes = attempt_until_settled(harness, notification)

    # Then its lost answer counted: FAILED after its three attempts
    assert outcomes[-1] is SendOutcome.FAILED
    assert len(harness.channel.calls) == 3
    assert harness.stored(notification).status.id is NotificationStatus.FAILED
