"""An event source mapping as the pollers act on it: the CreateEventSourceMapping request, defaults filled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.pollers.record_filter import RecordFilter

KINESIS_DEFAULT_BATCH: Final = 100
SQS_DEFAULT_BATCH: Final = 10


@dataclass(frozen=True, kw_only=True)
class EventSourceMapping:
    """What a poller acts on from a CreateEventSourceMapping request, with Lambda's defaults filled in."""

    function_arn: str
    event_source_arn: str
    batch_size: int
    batching_window_seconds: float = 0.0
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = -1  # -1: until the record expires
    maximum_record_age_seconds: int = -1  # -1: no limit
    bisect_on_function_error: bool = False
    report_batch_item_failures: bool = False
    on_failure_destination: str | None = None
    maximum_concurrency: int | None = None
    parallelization_factor: int = 1
    enabled: bool = True
    record_filter: RecordFilter = field(default_factory=RecordFilter)

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> EventSourceMapping:
        """Read a resolved request (as `materialize` keeps it)."""
        source = str(request["EventSourceArn"])
        queue = arn_parts(source)[0] == "sqs"
        return cls(
            function_arn=str(request["FunctionName"]),
            event_source_arn=source,
            batch_size=int(
                request.get("BatchSize") or (SQS_DEFAULT_BATCH if queue else KINESIS_DEFAULT_BATCH)
            ),
            batching_window_seconds=float(request.get("MaximumBatchingWindowInSeconds") or 0),
            starting_position=str(request.get("StartingPosition") or "LATEST"),
            maximum_retry_attempts=int(request.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(request.get("MaximumRecordAgeInSeconds", -1)),
            bisect_on_function_error=bool(request.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (request.get("FunctionResponseTypes") or []),
            on_failure_destination=((request.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination"
            ),
            maximum_concurrency=(request.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            parallelization_factor=int(request.get("ParallelizationFactor") or 1),
            enabled=bool(request.get("Enabled", True)),
            record_filter=RecordFilter.of_mapping(request),
        )

    @classmethod
    def of(cls, mapping: EventSourceMapping | Mapping[str, Any]) -> EventSourceMapping:
        """The mapping itself, or the one a resolved request describes."""
        return mapping if isinstance(mapping, EventSourceMapping) else cls.from_request(mapping)


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, account, last name segment) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[2], parts[4], parts[5].rsplit("/", 1)[-1]
