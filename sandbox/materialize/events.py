"""EventBridge rules (schedules and patterns) and their targets."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact, find, same_named, tag_list
from sandbox.materialize.results import Kind, MaterializeError
from sandbox.materialize.step import Step


def create_rule(step: Step) -> dict[str, str]:
    """A rule with its schedule or event pattern, state and tags."""
    inputs = step.inputs
    arn = step.client("events").put_rule(
        **compact(
            Name=step.physical_name(),
            State=inputs.get("state", "ENABLED"),
            **same_named(
                inputs, "scheduleExpression", "eventPattern", "description", "roleArn", "eventBusName"
            ),
            Tags=tag_list(inputs.get("tags")) or None,
        )
    )["RuleArn"]
    step.record(Kind.RULE, step.physical_name(), arn)
    return {"id": step.physical_name(), "arn": arn}


def create_target(step: Step) -> dict[str, str]:
    """A rule's target with its input, dead-letter queue and retry policy, read back and verified."""
    inputs, events = step.inputs, step.client("events")
    retry = inputs.get("retryPolicy") or {}
    target = compact(
        Id=inputs.get("targetId") or step.resource.name,
        Arn=inputs["arn"],
        **same_named(inputs, "roleArn", "input", "inputPath"),
        DeadLetterConfig={"Arn": inputs["deadLetterConfig"]["arn"]} if "deadLetterConfig" in inputs else None,
        RetryPolicy=same_named(retry, "maximumEventAgeInSeconds", "maximumRetryAttempts") or None,
    )
    bus = compact(EventBusName=inputs.get("eventBusName"))
    answer = events.put_targets(Rule=inputs["rule"], Targets=[target], **bus)
    if answer.get("FailedEntryCount"):
        raise MaterializeError(f"put_targets failed: {answer['FailedEntries']}")
    stored = find(events.list_targets_by_rule(Rule=inputs["rule"], **bus)["Targets"], "Id", target["Id"])
    step.verify(target, stored)
    step.record(Kind.RULE_TARGET, f"{inputs['rule']}/{target['Id']}", inputs["arn"])
    return {"id": f"{inputs['rule']}-{target['Id']}"}
