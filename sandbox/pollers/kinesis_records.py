"""Kinesis records as read from a shard, and the shapes Lambda gives them: its event, its filter's view."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.pollers.record_filter import json_or_text


@dataclass(frozen=True)
class StreamRecord:
    """One Kinesis record as read from the shard."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # the emulator's wall clock, epoch seconds

    @property
    def position(self) -> int:
        """The sequence number as a number (ordering within the shard)."""
        return int(self.sequence_number)

    @classmethod
    def from_answer(cls, shard_id: str, item: dict[str, Any]) -> StreamRecord:
        """One record of a GetRecords answer."""
        return cls(
            shard_id=shard_id,
            sequence_number=item["SequenceNumber"],
            partition_key=item["PartitionKey"],
            data=bytes(item["Data"]),
            arrival=_epoch(item.get("ApproximateArrivalTimestamp")),
        )


def kinesis_event(
    shard_id: str, records: Sequence[StreamRecord], *, source_arn: str, role_arn: str, region: str
) -> dict[str, Any]:
    """The Lambda event for a batch of Kinesis records."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": base64.b64encode(record.data).decode(),
                    "approximateArrivalTimestamp": round(record.arrival, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role_arn,
                "awsRegion": region,
                "eventSourceARN": source_arn,
            }
            for record in records
        ]
    }


def filter_subject(record: StreamRecord) -> dict[str, Any]:
    """The record as Lambda's filtering sees it: its metadata and `data` (decoded, parsed when JSON)."""
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record.partition_key,
        "sequenceNumber": record.sequence_number,
        "approximateArrivalTimestamp": record.arrival,
        "data": json_or_text(record.data.decode("utf-8", errors="replace")),
    }


def _epoch(value: datetime | float | None) -> float:
    if value is None:
        return time.time()
    return value.timestamp() if isinstance(value, datetime) else float(value)
