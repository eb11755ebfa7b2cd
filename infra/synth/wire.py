"""Reading a wire registration request: names from URNs and the resource options as declared."""

from __future__ import annotations

from typing import Any

from infra.pulumi_runtime import STACK_TYPE


def urn_name(urn: str) -> str:
    """The logical name in a URN, which may itself contain `::`."""
    # urn:pulumi:<stack>::<project>::<qualified type>::<name>
    return urn.split("::", 3)[3] if urn.count("::") >= 3 else urn


def _urn_type(urn: str) -> str:
    return urn.split("::", 3)[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def _parent_name(parent_urn: str) -> str | None:
    if not parent_urn or _urn_type(parent_urn) == STACK_TYPE:
        return None
    return urn_name(parent_urn)


def provider_name(provider_ref: str | None) -> str | None:
    """The provider's logical name from a provider reference; None for the default provider."""
    # A provider reference is "<provider urn>::<provider id>"; "" means the default provider.
    if not provider_ref:
        return None
    return urn_name(provider_ref.rsplit("::", 1)[0])


def wire_options(request: Any) -> dict[str, Any]:
    """The resource options a RegisterResource request carries, keyed as the graph records them."""
    aliases: list[dict[str, Any]] = [{"urn": urn} for urn in request.aliasURNs]
    for alias in request.aliases:
        if alias.HasField("urn"):
            aliases.append({"urn": alias.urn})
        else:
            spec = alias.spec
            described = {
                key: getattr(spec, key)
                for key in ("name", "type", "stack", "project", "parentUrn")
                if getattr(spec, key)
            }
            if spec.noParent:
                described["noParent"] = True
            aliases.append(described)
    return {
        "parent": _parent_name(request.parent),
        "protect": bool(request.protect),
        "depends_on": [],
        "dependencies": sorted({urn_name(urn) for urn in request.dependencies}),
        "delete_before_replace": bool(request.deleteBeforeReplace),
        "retain_on_delete": bool(request.retainOnDelete),
        "ignore_changes": sorted(request.ignoreChanges),
        "replace_on_changes": sorted(request.replaceOnChanges),
        "deleted_with": urn_name(request.deletedWith) if request.deletedWith else None,
        "aliases": aliases,
    }
