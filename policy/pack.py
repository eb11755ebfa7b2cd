"""The rules of `policy.rules` as the validation functions of a Pulumi policy pack.

`policy/__main__.py` wraps each in the SDK's `ResourceValidationPolicy`/`StackValidationPolicy`. The
SDK (pulumi-policy) runs in the pack's own virtualenv (policy/requirements.txt), not the project's:
it pins protobuf 5, which the workers' layer must not be held to. So this module depends only on the
arguments' documented attributes (`resource_type`, `name`, `props`, `urn`, `resources`) and the
`report_violation(message, urn)` callback, and is tested with plain objects of that shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from policy.rules import Resource, ResourceRule, StackRule, is_excepted

PACK_NAME = "dmd-workers-security"


class ReportViolation(Protocol):
    """The SDK's callback: a violation's message, and the URN of the resource (stack policies)."""

    def __call__(self, message: str, urn: str | None = None, /) -> None: ...


class ResourceArgs(Protocol):
    """What the SDK passes a resource validation (`ResourceValidationArgs`)."""

    @property
    def resource_type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...


class StackResource(ResourceArgs, Protocol):
    """One resource of a stack validation (`PolicyResource`)."""

    @property
    def urn(self) -> str: ...


class StackArgs(Protocol):
    """What the SDK passes a stack validation (`StackValidationArgs`)."""

    @property
    def resources(self) -> Sequence[StackResource]: ...


def plain(value: Any) -> Any:
    """The inputs as plain dicts and lists (the SDK hands them over wrapped in read-only proxies).

    Reading a value that is unknown during `pulumi preview` raises the SDK's UnknownValueError
    through its proxy; the SDK reports that policy as not checkable in preview, and `pulumi up`
    (where every input is known) checks it.
    """
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(value[index]) for index in range(len(value))]
    return value


def resource_validation(rule: ResourceRule) -> Callable[[ResourceArgs, ReportViolation], None]:
    """The validate function of the rule's resource policy."""

    def validate(args: ResourceArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        resource = Resource(args.resource_type, args.name, plain(args.props))
        message = rule.check(resource.props)
        if message is not None and not is_excepted(rule.id, resource):
            report_violation(f"{message} [{rule.scanner_id or rule.id}]", None)

    return validate


def stack_validation(rule: StackRule) -> Callable[[StackArgs, ReportViolation], None]:
    """The validate function of the rule's stack policy; each violation names its resource's URN."""

    def validate(args: StackArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, plain(r.props)) for r in args.resources]
        urns = {r.name: r.urn for r in args.resources}
        by_name = {resource.name: resource for resource in resources}
        for name, message in rule.check(resources):
            if not is_excepted(rule.id, by_name[name]):
                report_violation(f"{message} [{rule.scanner_id or rule.id}]", urns.get(name))

    return validate
