"""Create a synthesized stack's resources in an AWS emulator (moto), straight from the program's graph.

The sandbox does not hand-write its resources: it runs the real Pulumi program offline
(`infra.offline.synthesize_stack`) and turns every custom resource of the graph into the emulator's
equivalent with boto3, one small creator per resource type (`creators.CREATORS`, grouped by service
in this package's modules). Nothing is dropped silently:

* a type without a creator, or an operation the emulator does not implement, becomes a `Skipped`
  entry with the reason (e.g. AppSync data sources and resolvers, which moto 5.2 lacks);
* after creating a resource, its creator reads it back and reports every field the emulator did not
  store as sent as a `DroppedField` (e.g. moto keeps no Lambda `LoggingConfig` nor SQS
  `RedriveAllowPolicy`).

Cross references: the graph's inputs hold the ARNs, URLs and ids the recording mocks invented
(`infra.synth.OUTPUT_TEMPLATES`). Each creator returns the emulator's real outputs under the
same keys, so every later input is rewritten from mock value to real value, per resource, before use
(`references.References`).

CDC: DynamoDB → Kinesis streaming destinations are not implemented by moto. Every table that has one
(or asks for a stream) gets its DynamoDB stream enabled with NEW_AND_OLD_IMAGES instead, and the
destination is reported skipped with a `CdcRoute` (table stream → Kinesis stream) for a tailer that
copies the stream's records into the Kinesis stream, as AWS would.

Event source mappings: moto stores them (with filters), but stock moto runs the registered ones
itself: without Docker every PutRecord to a stream with a mapping fails, and a queue's messages are
consumed by moto. The sandbox's emulator process detaches them (`sandbox.emulator_server`), so it
registers them (their state is what `dmd maintenance` pauses) and runs the workers through its own
pollers from the resolved requests in `Materialized.event_source_mappings`. Against a stock moto
whose sources must accept writes, materialize with `register_event_source_mappings=False`.
"""

from sandbox.materialize.dynamodb import CDC_STREAM_VIEW
from sandbox.materialize.lambda_ import UNREGISTERED_MAPPING, placeholder_archive
from sandbox.materialize.order import creation_order
from sandbox.materialize.results import (
    CdcRoute,
    Created,
    DroppedField,
    Kind,
    Materialized,
    MaterializeError,
    Skipped,
)
from sandbox.materialize.run import Progress, materialize
from sandbox.materialize.secrets import PLACEHOLDER_SECRET_VALUE

__all__ = [
    "CDC_STREAM_VIEW",
    "PLACEHOLDER_SECRET_VALUE",
    "UNREGISTERED_MAPPING",
    "CdcRoute",
    "Created",
    "DroppedField",
    "Kind",
    "MaterializeError",
    "Materialized",
    "Progress",
    "Skipped",
    "creation_order",
    "materialize",
    "placeholder_archive",
]
