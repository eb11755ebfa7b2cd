"""Every taggable resource carries the standard tags, and every name fits its AWS limit."""

from __future__ import annotations

import importlib
import inspect
import keyword

import pulumi

from infra.catalog import CATALOG
from infra.synth import RecordedResource
from tests.infra.program.resource_types import (
    ALARM,
    DASHBOARD,
    EVENT_RULE,
    FUNCTION,
    KMS_KEY,
    LAYER,
    LOG_GROUP,
    QUEUE,
    ROLE,
    ROLE_POLICY,
    STREAM,
    TABLE,
)
from tests.infra.program.stack_under_test import Stack

REQUIRED_TAG_KEYS = ("ProductCode", "Environment", "InventoryCode", "ProductName", "Repository")


def _resource_class(token: str) -> type[pulumi.CustomResource]:
    """The pulumi_aws class of a type token, found through the module path in the token."""
    _, module_path, class_name = token.split(":")
    module = module_path.split("/")[0]
    python_module = f"{module}_" if keyword.iskeyword(module) else module
    cls: type[pulumi.CustomResource] = getattr(
        importlib.import_module(f"pulumi_aws.{python_module}"), class_name
    )
    assert pulumi.get_type_token(cls) == token, f"{cls} is not {token}"
    return cls


def _accepts_tags(token: str) -> bool:
    initializer = _resource_class(token)._internal_init  # type: ignore[attr-defined]
    return "tags" in inspect.signature(initializer).parameters


def test_tag_introspection_tells_taggable_from_untaggable_classes() -> None:
    # Given classes known to accept tags and classes known not to
    # When the introspection is asked
    # Then it answers correctly, so the tag test below is not vacuous
    assert (
        _accepts_tags(FUNCTION) and _accepts_tags(QUEUE) and _accepts_tags(KMS_KEY) and _accepts_tags(ALARM)
    )
    assert not _accepts_tags(LAYER) and not _accepts_tags(DASHBOARD) and not _accepts_tags(ROLE_POLICY)


def test_every_taggable_resource_carries_the_standard_tags(stack: Stack) -> None:
    # Given the owner of each custom resource (a worker's inventory code, else the platform's)
    codes = {spec.name: spec.inventory_code for spec in CATALOG}
    owners = {resource.name: resource.parent for resource in stack.graph.resources}

    def owner_code(resource: RecordedResource) -> str:
        parent = resource.parent
        while parent is not None and parent not in codes:
            parent = owners[parent]
        return codes.get(parent or "", "dmnd")

    # When every resource whose class accepts tags is checked
    taggable = [r for r in stack.graph.resources if r.custom and _accepts_tags(r.type_)]
    problems = {
        r.name: r.inputs.get("tags")
        for r in taggable
        if {key: (r.inputs.get("tags") or {}).get(key) for key in REQUIRED_TAG_KEYS}
        != stack.tags(owner_code(r))
    }

    # Then each carries ProductCode, Environment, InventoryCode, ProductName and Repository
    assert len(taggable) > 100
    assert problems == {}


NAME_LIMITS = {
    # type -> (input holding the AWS name, the longest name AWS accepts)
    FUNCTION: ("name", 64),
    ROLE: ("name", 64),
    EVENT_RULE: ("name", 64),
    QUEUE: ("name", 80),
    STREAM: ("name", 128),
    TABLE: ("name", 255),
    ALARM: ("name", 255),
    LOG_GROUP: ("name", 512),
}


def test_every_name_fits_its_aws_limit(stack: Stack) -> None:
    # Given AWS's name-length limits (which mocks never enforce)
    # When every named resource is checked
    too_long = {
        resource.name: resource.inputs[key]
        for resource in stack.graph.resources
        if resource.type_ in NAME_LIMITS
        for key, limit in [NAME_LIMITS[resource.type_]]
        if len(resource.inputs[key]) > limit
    }

    # Then none is too long
    assert too_long == {}
