"""IAM roles and their inline policies."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact, same_named, tag_list
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step


def create_role(step: Step) -> dict[str, str]:
    """A role with its trust policy and tags."""
    inputs = step.inputs
    name = step.physical_name()
    role = step.client("iam").create_role(
        **compact(
            RoleName=name,
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            **same_named(inputs, "path", "description", "maxSessionDuration"),
            Tags=tag_list(inputs.get("tags")) or None,
        )
    )["Role"]
    step.record(Kind.ROLE, name, role["Arn"])
    return {"id": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def create_role_policy(step: Step) -> dict[str, str]:
    """An inline policy of a role."""
    inputs = step.inputs
    name = step.physical_name()
    step.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"]
    )
    step.record(Kind.ROLE_POLICY, f"{inputs['role']}:{name}", name)
    return {"id": f"{inputs['role']}:{name}"}
