"""Poison records parked: a record that cannot succeed on retry goes to the worker's dead-letter queue whole.

A parked record is one SQS message on the worker's on-failure queue (stream workers: the queue Lambda
sends its own on-failure records to). Its body is `{"parked": {...}}` (`ParkedMessage`) holding the raw
Lambda event record as received, the reason and the source position; its message attribute
`dmdParked=1` tells it from Lambda's on-failure records without reading the body. `dmd replay
--from-failures` re-drives it as a one-record event. See docs/workers-runtime.md ("Poison records").

The generator parks a malformed demand item it read from the table (`kind` "dynamodb": the item as
DynamoDB returned it, the table and key) in its generation queue's dead-letter queue, with the
generation `job` that re-drives it: `dmd dlq redrive` sends that message back to the generation
queue, where the generator runs the job again (conditional creates: only the missing reminder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from workers.shared.errors import PermanentError, SecretError, SettingsError, VendorError
from workers.shared.observability import LOGGER
from workers.shared.queue_sender import QueueSender

PARKED_ATTRIBUTE = "dmdParked"  # message attribute "1" on every parked record
WORKER_ATTRIBUTE = "dmdWorker"  # message attribute: the worker that parked it
PARKED_VERSION = 1
SourceKind = Literal["kinesis", "sqs", "dynamodb"]
# A vendor refusing our credentials fails every record alike: that is the environment, not the record.
_CREDENTIAL_STATUSES = frozenset({401, 403})


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        extra="ignore",
        defer_build=True,  # built at the first parking, not at every cold start
    )


class ParkedReason(_Camel):
    """Why the record was parked: the error's type and message (no payload in it)."""

    error_type: str
    message: str


class ParkedSource(_Camel):
    """Where the record came from: stream, shard and sequence number; queue and message id; table and key."""

    kind: SourceKind
    event_source_arn: str | None = Field(default=None, alias="eventSourceARN")
    shard_id: str | None = None
    sequence_number: str | None = None
    message_id: str | None = None
    table_name: str | None = None  # dynamodb: the table the item was read from
    key: dict[str, str] | None = None  # dynamodb: the item's key (PK, SK)


class ParkedRecord(_Camel):
    """One parked record: the raw Lambda event record, why, from where, by which worker and when."""

    version: int = PARKED_VERSION
    worker: str
    parked_at: AwareDatetime
    reason: ParkedReason
    source: ParkedSource
    record: dict[str, Any]
    # A record parked by a queue worker's job (the generator): the job message that re-drives it.
    job: dict[str, Any] | None = None

    def event(self) -> dict[str, Any]:
        """The one-record Lambda event that re-drives it (`{"Records": [record]}`)."""
        return {"Records": [self.record]}


class ParkedMessage(_Camel):
    """The body of a parked record's SQS message."""

    parked: ParkedRecord


def parked_record(body: str) -> ParkedRecord | None:
    """The parked record in an SQS message body; None when the body is anything else."""
    try:
        return ParkedMessage.model_validate_json(body).parked
    except (ValidationError, ValueError):
        return None


def is_poison(error: BaseException) -> bool:
    """Whether retrying the record cannot help: a parse failure or a `PermanentError` of the record itself.

    Settings, secrets and a vendor refusing our credentials (401/403) are permanent for every record
    alike until someone fixes the environment: those keep Lambda's retry path, or a bad deploy would
    park the whole stream.
    """
    if not isinstance(error, PermanentError) or isinstance(error, (SettingsError, SecretError)):
        return False
    return not (isinstance(error, VendorError) and error.status_code in _CREDENTIAL_STATUSES)


def source_of(record: dict[str, Any], kind: SourceKind) -> ParkedSource:
    """The source position of a raw Lambda record (Kinesis: shard from `eventID`; SQS: message id).

    A part of the envelope that is not where or what Lambda puts it is left out (None): a malformed
    record is the one most in need of parking.
    """
    arn = _string(record.get("eventSourceARN"))
    if kind == "sqs":
        return ParkedSource(kind=kind, event_source_arn=arn, message_id=_string(record.get("messageId")))
    kinesis = record.get("kinesis")
    sequence_number = _string(kinesis.get("sequenceNumber")) if isinstance(kinesis, dict) else None
    event_id = _string(record.get("eventID")) or ""
    shard_id = event_id.partition(":")[0] if ":" in event_id else None
    return ParkedSource(kind=kind, event_source_arn=arn, shard_id=shard_id, sequence_number=sequence_number)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, kw_only=True)
class RecordParking:
    """Parks poison records of one worker in its dead-letter queue (one SendMessage each)."""

    worker: str
    queue: QueueSender

    @staticmethod
    def is_poison(error: BaseException) -> bool:
        """`is_poison`: whether this error parks the record rather than reporting it failed."""
        return is_poison(error)

    def park(self, record: dict[str, Any], kind: SourceKind, error: BaseException) -> bool:
        """Send the record with its reason and position; False (logged) when the queue did not take it."""
        source = source_of(record, kind)
        reason = ParkedReason(error_type=type(error).__name__, message=str(error))
        return self._send(
            ParkedRecord(
                worker=self.worker, parked_at=datetime.now(UTC), reason=reason, source=source, record=record
            ),
            position=source.sequence_number or source.message_id,
        )

    def park_item(
        self,
        item: dict[str, Any],
        *,
        table_name: str,
        key: dict[str, str],
        reason: ParkedReason,
        job: dict[str, Any] | None = None,
    ) -> bool:
        """Park a table item as read (DynamoDB JSON) with its table, key and the job that re-drives it.

        False (logged) when the queue did not take it: the caller fails its work, so nothing is lost.
        """
        source = ParkedSource(kind="dynamodb", table_name=table_name, key=key)
        return self._send(
            ParkedRecord(
                worker=self.worker,
                parked_at=datetime.now(UTC),
                reason=reason,
                source=source,
                record=item,
                job=job,
            ),
            position=" ".join(key.values()),
        )

    def _send(self, parked: ParkedRecord, *, position: str | None) -> bool:
        try:
            self.queue.send(
                ParkedMessage(parked=parked),
                correlation_id=position,
                attributes={PARKED_ATTRIBUTE: "1", WORKER_ATTRIBUTE: self.worker},
            )
        except (ClientError, BotoCoreError) as send_error:
            LOGGER.error(
                "Record not parked: reported failed instead",
                extra={"record_id": position, "queue": self.queue.name, "error": str(send_error)},
            )
            return False
        LOGGER.warning(
            "Record parked",
            extra={"record_id": position, "queue": self.queue.name, "error_type": parked.reason.error_type},
        )
        return True


def record_parking(worker: str, queue_url: str | None) -> RecordParking | None:
    """The worker's parking, or None when its environment names no parking queue (records fail as before)."""
    return RecordParking(worker=worker, queue=QueueSender(url=queue_url)) if queue_url else None
