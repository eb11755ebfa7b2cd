"""Generation jobs (SQS) → one notification per fan, sale and contact method; continuations re-enqueued."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from workers.notification_generator.logic import Deadline, ParkDemand, generate
from workers.notification_generator.models import GenerationJob
from workers.notification_generator.settings import GeneratorSettings
from workers.shared.bitly import bitly_client
from workers.shared.clients import demand_repository, sqs
from workers.shared.errors import RecordError
from workers.shared.observability import LOGGER, instrumented
from workers.shared.parking import ParkedReason, RecordParking, parked_record, record_parking
from workers.shared.queue_sender import QueueSender
from workers.shared.records import QueueMessage, process_batch, queue_message
from workers.shared.repository import SkippedDemand
from workers.shared.settings import load_settings

# A write throttled on every attempt fails the whole job: ride throttling out with DynamoDB's retry
# policy for longer (10 attempts, waits of 50 ms doubling: at most 25.6 s in all, within the
# continuation margin; at 10 % throttling one write in 10^10 fails, against one in 10^3 before).
PATIENT_DYNAMODB_ATTEMPTS: Final = 10
# A failed job comes back after this many seconds (doubling per receive, capped), not after the
# queue's visibility timeout (90 min in prod1, sized for the longest job): a sale's reminders are
# due within the scheduler's lead, and maxReceiveCount (≥ 5) still bounds the attempts.
RETRY_DELAY_SECONDS: Final = 30
RETRY_DELAY_CAP_SECONDS: Final = 300
_GIVEN_UP: Final = "batchItemFailures"


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Generate each job's notifications; failed jobs come back as batch-item failures, soon."""
    settings = load_settings(GeneratorSettings)
    repository = demand_repository(settings, max_attempts=PATIENT_DYNAMODB_ATTEMPTS)
    queue = QueueSender(url=settings.generation_queue_url)
    parking = record_parking(settings.service_name, settings.parking_queue_url)
    deadline = Deadline(context.get_remaining_time_in_millis, settings.continuation_margin_seconds)
    # One attempt within the bound, no retries: a reminder with the full URL beats a late one.
    shortener = bitly_client(
        settings.bitly_url,
        secret_arn=settings.bitly_secret_arn,
        group_guid=settings.bitly_group_guid or None,
        timeout_seconds=settings.short_url_timeout_seconds,
        max_attempts=1,
    )

    def handle(message: QueueMessage[RedrivableJob]) -> None:
        # Standard queue: the conditional creates make a duplicate delivery of a continuation harmless.
        generate(
            message.body.job,
            repository,
            page_size=settings.demand_page_size,
            write_parallelism=settings.write_parallelism,
            deadline=deadline,
            continue_with=functools.partial(queue.send, correlation_id=message.correlation_id),
            shortener=shortener,
            late_grace=settings.late_grace,
            release_after=settings.release_after,
            park=demand_parking(parking, repository.table_name, only_key=message.body.parked_key),
        )

    response = process_batch(event, context, event_type="SQS", parser=generation_job, record_handler=handle)
    retry_soon(event, response, queue_url=settings.generation_queue_url)
    return response


class RedrivableJob(BaseModel):
    """A generation job as received: a job, or a parked demand item's message re-driven from the DLQ."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    job: GenerationJob
    # Re-driven from a parked item: only that item may be parked again (the page's other malformed
    # items have messages of their own).
    parked_key: dict[str, str] | None = None


_parse_job = queue_message(GenerationJob)


def generation_job(record: Mapping[str, Any]) -> QueueMessage[RedrivableJob]:
    """Parse an SQS record: a GenerationJob, or a parked demand item carrying the job that re-drives it.

    `dmd dlq redrive` moves every message of the generation DLQ back to the generation queue: the
    failed jobs and the parked items alike; a parked item runs its job again.
    """
    raw = record.get("body")
    parked = parked_record(raw) if isinstance(raw, str) and '"parked"' in raw else None
    if parked is None:
        message = _parse_job(record)
        return QueueMessage(
            message_id=message.message_id,
            body=RedrivableJob(job=message.body),
            attributes=message.attributes,
            receive_count=message.receive_count,
        )
    if parked.job is None:
        raise RecordError(
            f"a parked {parked.source.kind} record of {parked.worker} carries no generation job"
        )
    wrapped = _parse_job({**record, "body": json.dumps(parked.job)})
    return QueueMessage(
        message_id=wrapped.message_id,
        body=RedrivableJob(job=wrapped.body, parked_key=parked.source.key or {}),
        attributes=wrapped.attributes,
        receive_count=wrapped.receive_count,
    )


def demand_parking(
    parking: RecordParking | None, table_name: str, *, only_key: Mapping[str, str] | None = None
) -> ParkDemand | None:
    """Park a skipped demand item whole (with the job from its page on); None without a parking queue."""
    if parking is None:
        return None

    def park(skipped: SkippedDemand, job: GenerationJob) -> bool:
        if only_key is not None and skipped.key != only_key:
            return True  # parked by its own message already
        deviation = skipped.deviation
        return parking.park_item(
            skipped.item,
            table_name=table_name,
            key=skipped.key,
            reason=ParkedReason(
                error_type=f"DemandDeviation:{deviation.kind.value}",
                message=f"{deviation.field}: {deviation.detail}",
            ),
            job=job.model_dump(mode="json", by_alias=True, exclude_none=True),
        )

    return park


def retry_delay(receive_count: int) -> int:
    """Seconds until a failed job is visible again: 30 s, doubling per receive, at most 5 min."""
    return int(min(RETRY_DELAY_CAP_SECONDS, RETRY_DELAY_SECONDS * 2 ** max(0, min(receive_count, 16) - 1)))


def retry_soon(event: Mapping[str, Any], response: Mapping[str, Any], *, queue_url: str) -> None:
    """Make each failed job visible again after `retry_delay`, not after the queue's visibility timeout.

    Best effort: a job whose visibility cannot be changed comes back after the timeout, as without.
    """
    failed = {item.get("itemIdentifier") for item in response.get(_GIVEN_UP) or ()}
    for record in event.get("Records") or ():
        if not isinstance(record, Mapping) or record.get("messageId") not in failed:
            continue
        attributes = record.get("attributes")
        count = attributes.get("ApproximateReceiveCount") if isinstance(attributes, Mapping) else None
        delay = retry_delay(int(count) if isinstance(count, str) and count.isdigit() else 1)
        try:
            sqs().change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=str(record.get("receiptHandle")), VisibilityTimeout=delay
            )
        except (ClientError, BotoCoreError) as error:
            LOGGER.warning(
                "Failed job's visibility not shortened: it comes back after the queue's timeout",
                extra={"record_id": record.get("messageId"), "error": str(error)},
            )
            continue
        LOGGER.info(
            "Failed job comes back soon", extra={"record_id": record.get("messageId"), "delay": delay}
        )
