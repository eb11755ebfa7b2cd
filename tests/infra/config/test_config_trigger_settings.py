"""Trigger settings: schedule intervals and the ranges of stream trigger options."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from infra.config import ScheduleTriggerSettings, StreamTriggerSettings
from tests.infra.config.stack_file_edits import VALUES, rejection, with_change

# ---------------------------------------------------------------------------------------------
# Schedule intervals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        pytest.param("cron(0/30 * * * ? *)", 1800, id="cron-step"),
        pytest.param("cron(0,30 * * * ? *)", 1800, id="cron-list"),
        pytest.param("cron(0,10 * * * ? *)", 3000, id="cron-uneven-list-takes-longest-gap"),
        pytest.param("rate(5 minutes)", 300, id="rate-minutes"),
        pytest.param("rate(1 hour)", 3600, id="rate-one-hour"),
        pytest.param("rate(2 days)", 172_800, id="rate-days"),
        pytest.param("cron(0 12 * * ? *)", 86_400, id="cron-daily"),
        pytest.param("cron(0 */6 * * ? *)", 21_600, id="cron-hour-step"),
        pytest.param("cron(0 9-17 * * ? *)", 57_600, id="cron-office-hours-overnight-gap"),
        pytest.param("cron(15 10 ? * MON *)", 604_800, id="cron-weekly"),
    ],
)
def test_schedule_interval_is_the_longest_gap_between_runs(expression: str, seconds: int) -> None:
    # Given a schedule trigger
    trigger = ScheduleTriggerSettings(schedule_expression=expression)

    # When its interval is asked for
    # Then it is the longest wait between two runs
    assert trigger.interval_seconds() == seconds


# ---------------------------------------------------------------------------------------------
# Properties: stream trigger ranges
# ---------------------------------------------------------------------------------------------

VALID_STREAM_TRIGGER = st.fixed_dictionaries(
    {
        "batchSize": st.integers(1, 10_000),
        "maximumBatchingWindowSeconds": st.integers(0, 300),
        "parallelizationFactor": st.integers(1, 10),
        "maximumRetryAttempts": st.integers(0, 10_000),
        "maximumRecordAgeSeconds": st.integers(60, 604_800),
    }
)
RECORD_AGE_OUT_OF_RANGE = st.one_of(
    st.integers(max_value=-2), st.integers(0, 59), st.integers(min_value=604_801)
)


@settings(max_examples=75, deadline=None)
@given(options=VALID_STREAM_TRIGGER)
def test_stream_trigger_within_aws_ranges_is_accepted(options: dict[str, int]) -> None:
    # Given stream trigger options inside the ranges AWS and the program allow
    # When they are validated
    trigger = StreamTriggerSettings.model_validate(options)

    # Then they are kept as given
    dumped = trigger.model_dump(by_alias=True)
    assert {key: dumped[key] for key in options} == options


@settings(max_examples=75, deadline=None)
@given(options=VALID_STREAM_TRIGGER, record_age=RECORD_AGE_OUT_OF_RANGE)
def test_stream_trigger_with_record_age_outside_60_to_604800_is_rejected_at_that_key(
    options: dict[str, int], record_age: int
) -> None:
    # Given otherwise valid options with a record age outside [60, 604800] and not -1
    options = {**options, "maximumRecordAgeSeconds": record_age}

    # When they are validated, alone and as notification_send's trigger in a stack file
    with pytest.raises(ValidationError):
        StreamTriggerSettings.model_validate(options)
    message = rejection("qa1", with_change(VALUES["qa1"], "workers.notification_send.trigger", options))

    # Then the stack file's one problem is that key, with the value given
    key = "dmd-workers:workers.notification_send.trigger.maximumRecordAgeSeconds"
    assert message.startswith(f"Pulumi.qa1.yaml: {key}: "), message
    assert message.endswith(f"(got {record_age})"), message
