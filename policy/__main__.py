"""The policy pack `pulumi preview|up --policy-pack policy` runs (in the pack's own virtualenv)."""

import sys
from pathlib import Path

# The engine runs this file from the pack's folder; the rules are the `policy` package beside it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy

from policy.pack import PACK_NAME, resource_validation, stack_validation
from policy.rules import RESOURCE_RULES, STACK_RULES

PolicyPack(
    name=PACK_NAME,
    policies=[
        *(
            ResourceValidationPolicy(
                name=rule.id,
                description=rule.description,
                validate=resource_validation(rule),
                enforcement_level=EnforcementLevel.MANDATORY,
            )
            for rule in RESOURCE_RULES
        ),
        *(
            StackValidationPolicy(
                name=rule.id,
                description=rule.description,
                validate=stack_validation(rule),
                enforcement_level=EnforcementLevel.MANDATORY,
            )
            for rule in STACK_RULES
        ),
    ],
)
