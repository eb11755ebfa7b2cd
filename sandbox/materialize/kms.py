"""KMS keys (with rotation) and their aliases."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact, same_named, tag_list
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step


def create_key(step: Step) -> dict[str, str]:
    """A customer managed key, with rotation verified when the graph enables it."""
    inputs, kms = step.inputs, step.client("kms")
    metadata = kms.create_key(
        **compact(
            **same_named(inputs, "description", "policy", "keyUsage"),
            KeySpec=inputs.get("customerMasterKeySpec"),
            Tags=tag_list(inputs.get("tags"), "TagKey", "TagValue") or None,
        )
    )["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
        rotation = kms.get_key_rotation_status(KeyId=metadata["KeyId"])
        step.verify({"KeyRotationEnabled": True}, rotation)
    step.record(Kind.KMS_KEY, step.resource.name, metadata["Arn"])
    return {"id": metadata["KeyId"], "keyId": metadata["KeyId"], "arn": metadata["Arn"]}


def create_alias(step: Step) -> dict[str, str]:
    """An alias of a key, read back to check it points at that key."""
    inputs, kms = step.inputs, step.client("kms")
    name, key_id = step.physical_name(), inputs["targetKeyId"]
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    stored = next(alias for alias in kms.list_aliases(KeyId=key_id)["Aliases"] if alias["AliasName"] == name)
    step.verify({"AliasName": name, "TargetKeyId": key_id}, stored)
    step.record(Kind.KMS_ALIAS, name, stored["AliasArn"])
    return {"id": name, "arn": stored["AliasArn"], "name": name}
