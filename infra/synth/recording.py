"""Recording mocks: every registration kept as the engine would see it, answered like AWS would."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

from infra.pulumi_runtime import RegistrationMonitor
from infra.synth.cloud_outputs import (
    OUTPUT_TEMPLATES,
    RESOURCE_CLASSES,
    CloudContext,
    CloudOutputs,
    NotYetKnownError,
    generic_arn,
)
from infra.synth.errors import (
    DuplicateUrnError,
    ExistingResourceReadError,
    InvokeNotAllowedError,
    TransformNotSupportedError,
)
from infra.synth.graph import RecordedResource
from infra.synth.values import plain
from infra.synth.wire import provider_name, wire_options

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"

_STACK_REFERENCE_TYPE: Final = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class _Registration:
    urn: str
    request: Any


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every registration and answer with the outputs AWS would compute."""

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        project_root: Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._project_root = project_root
        self._records: list[RecordedResource] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()
        self._in_flight = threading.local()

    @property
    def resources(self) -> list[RecordedResource]:
        """The registrations recorded so far, in arrival order."""
        with self._lock:
            return list(self._records)

    def monitor(self) -> RegistrationMonitor:
        """The mock monitor that shows these mocks each wire request (options, parent, dependencies)."""
        return RegistrationMonitor(self, self._registering)

    @contextlib.contextmanager
    def _registering(self, urn: str, request: Any) -> Iterator[None]:
        """Make the wire request visible to `new_resource`, which runs on the same thread."""
        self._in_flight.registration = _Registration(urn=urn, request=request)
        try:
            yield
        finally:
            self._in_flight.registration = None

    def call(self, args: MockCallArgs) -> NoReturn:
        """Refuse every invoke: stack config and resource outputs serve instead of data sources."""
        raise InvokeNotAllowedError(
            f"the program called the provider function {args.token!r}; an offline synth answers no "
            "data-source invokes (house rule: take account, region and ARNs from config and outputs)"
        )

    def register_transform(self, transform: pulumi.ResourceTransform) -> NoReturn:
        """Refuse stack transforms: the mock monitor never runs them, so the graph would silently differ."""
        raise TransformNotSupportedError(
            f"the program registers the transform {getattr(transform, '__name__', transform)!r}; engine-side "
            "transforms do not run under mocks, so the offline graph would not match a deployment"
        )

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Record the registration and return an id plus inputs merged with computed outputs."""
        if args.transforms:
            raise TransformNotSupportedError(
                f"{args.typ} {args.name!r} declares `transforms`; engine-side transforms do not run under "
                "mocks, so the offline graph would not match a deployment"
            )
        if args.custom is None:
            # Only `ReadResource` (Resource.get, StackReference) leaves `custom` unset.
            what = "a stack reference" if args.typ == _STACK_REFERENCE_TYPE else "an existing resource"
            raise ExistingResourceReadError(
                f"the program reads {what} ({args.typ} {args.name!r}), which needs a real backend; "
                "an offline synth cannot"
            )
        registration: _Registration | None = getattr(self._in_flight, "registration", None)
        inputs = plain(args.inputs, self._project_root)
        options = wire_options(registration.request) if registration is not None else {}
        record = RecordedResource(
            type_=args.typ,
            name=args.name,
            parent=options.get("parent"),
            custom=bool(args.custom),
            inputs=inputs,
            provider=provider_name(args.provider),
            options=options,
            urn=registration.urn if registration is not None else "",
        )
        with self._lock:
            if record.urn and record.urn in self._urns:
                raise DuplicateUrnError(
                    f"duplicate resource URN {record.urn!r}; give the resource a unique name"
                )
            self._urns.add(record.urn)
            self._records.append(record)
        if not args.custom:
            # Components have no physical id; their outputs come from `register_outputs`.
            return "", dict(args.inputs)
        cloud = self._cloud_outputs(args.typ, args.name, inputs)
        return cloud.id, {**cloud.outputs, **args.inputs}

    def _cloud_outputs(self, token: str, name: str, inputs: dict[str, Any]) -> CloudOutputs:
        ctx = CloudContext(
            type_=token, logical_name=name, inputs=inputs, region=self.region, account=self.account_id
        )
        template = OUTPUT_TEMPLATES.get(token)
        if template is None and token.startswith("aws:") and RESOURCE_CLASSES.has_arn(token):
            template = generic_arn
        try:
            if template is not None:
                return template(ctx)
            return CloudOutputs(id=ctx.physical_name())
        except NotYetKnownError:
            # In a preview, outputs the mock leaves out resolve as unknown, as they would for real.
            return CloudOutputs(id=f"{name}-id")
