"""`dmd scan`: the fleet's policy pack run offline over a stack's synthesized graph."""

from __future__ import annotations

from infra.config import ConfigError
from infra.offline import synthesize_stack
from infra.synth import ResourceGraph, StackFileError
from ops.operator_io import EXIT_BAD_INPUT, JsonModel, JsonOption, StackOption, fail, print_json, show, table
from policy.rules import Resource, ScanResult, scan


class ScanFinding(JsonModel):
    """One finding of `dmd scan --json`."""

    rule: str
    resource: str
    message: str
    status: str  # "FAIL" | "EXCEPTION"
    reason: str | None = None


def scan_graph(graph: ResourceGraph) -> ScanResult:
    """Every rule of the policy pack over the graph's cloud resources (components are not checked)."""
    resources = [
        Resource(resource.type_, resource.name, resource.inputs)
        for resource in graph.resources
        if resource.custom
    ]
    return scan(resources)


def scan_command(stack: StackOption, json_output: JsonOption = False) -> None:
    """Run the policy pack (policy/, what `pulumi preview --policy-pack policy` runs) over a stack offline.

    Exit 1 when a rule fails that is not a documented exception (docs/security.md). --json prints
    {stack, failures, excepted, findings: [{rule, resource, message, status: FAIL|EXCEPTION, reason}]}.

    Example: dmd scan --stack prod1
    """
    try:
        graph = synthesize_stack(stack)
    except (ConfigError, StackFileError) as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    result = scan_graph(graph)
    findings = [
        ScanFinding(rule=f.rule, resource=f.resource, message=f.message, status="FAIL")
        for f in result.failures
    ]
    findings += [
        ScanFinding(
            rule=f.rule, resource=f.resource, message=f.message, status="EXCEPTION", reason=known.reason
        )
        for f, known in result.excepted
    ]
    if json_output:
        print_json(
            {
                "stack": stack,
                "failures": len(result.failures),
                "excepted": len(result.excepted),
                "findings": [finding.model_dump() for finding in findings],
            }
        )
    else:
        failures = [(f.rule, f.resource, f.message) for f in findings if f.status == "FAIL"]
        show(table(f"{stack}: policy failures", ("rule", "resource", "finding"), failures))
        grouped: dict[str, list[ScanFinding]] = {}
        for finding in findings:
            if finding.status == "EXCEPTION":
                grouped.setdefault(finding.rule, []).append(finding)
        rows = [(rule, len(items), items[0].reason) for rule, items in sorted(grouped.items())]
        show(
            table(f"{stack}: documented exceptions (docs/security.md)", ("rule", "resources", "reason"), rows)
        )
        show(f"{len(result.failures)} failures, {len(result.excepted)} findings under documented exceptions")
    if result.failures:
        fail(f"{len(result.failures)} policy failures on {stack}")
