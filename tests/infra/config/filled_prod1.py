"""prod1 as the team will fill it: the committed template with a real-looking value for every placeholder."""

from __future__ import annotations

import copy
import itertools
import shutil
from pathlib import Path
from typing import Any

import yaml

from infra.stack_files import PROJECT_ROOT

# Every placeholder the committed prod1 template holds, in file order: what the team must set.
PROD1_PLACEHOLDERS = [
    ("dmd-workers:accountId", "sample-account-id"),
    ("dmd-workers:platform.smsStatusStream.existingArn", "sample-account-id"),
    ("dmd-workers:platform.centralLogStreamArn", "sample-account-id"),
    ("dmd-workers:platform.alarmTopic.subscriptions[0].endpoint", "reserved-domain"),
    ("dmd-workers:platform.alarmTopic.subscriptions[1].endpoint", "placeholder-text"),
    ("dmd-workers:platform.vpc.subnetIds[0]", "sample-resource-id"),
    ("dmd-workers:platform.vpc.subnetIds[1]", "sample-resource-id"),
    ("dmd-workers:platform.vpc.subnetIds[2]", "sample-resource-id"),
    ("dmd-workers:platform.vpc.securityGroupIds[0]", "sample-resource-id"),
    ("dmd-workers:vendors.smsServiceUrl", "reserved-domain"),
    ("dmd-workers:vendors.smsServiceRoleArn", "sample-account-id"),
    ("dmd-workers:vendors.accountsUrl", "reserved-domain"),
    ("dmd-workers:vendors.accountsRoleArn", "sample-account-id"),
    ("dmd-workers:vendors.publishUrl", "reserved-domain"),
    ("dmd-workers:email.fromAddress", "reserved-domain"),
    ("dmd-workers:email.identityDomain", "reserved-domain"),
]

# Real-looking values for every placeholder of prod1, and the protections production needs.
ACCOUNT = "482916305174"
FILLED: dict[str, Any] = {
    "dmd-workers:accountId": ACCOUNT,
    "dmd-workers:platform.smsStatusStream.existingArn": (
        f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/prd3292-prod1-sms-status"
    ),
    "dmd-workers:platform.centralLogStreamArn": (
        f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/prd3292-prod1-logs"
    ),
    "dmd-workers:platform.alarmTopic.subscriptions[0].endpoint": "dmnd-oncall@reminders-team.io",
    "dmd-workers:platform.alarmTopic.subscriptions[1].endpoint": (
        "https://events.pagerduty.com/integration/5f3a9c0d1e2b4a7c8d9e0f1a2b3c4d5e/enqueue"
    ),
    "dmd-workers:platform.vpc.subnetIds": ["subnet-0c8e1a7b3d5f92460", "subnet-0c8e1a7b3d5f92461"],
    "dmd-workers:platform.vpc.securityGroupIds": ["sg-07d4b2e9a1c3f5860"],
    "dmd-workers:vendors.smsServiceUrl": "https://sms.prod.reminders-team.io",
    "dmd-workers:vendors.smsServiceRoleArn": "arn:aws:iam::735201948362:role/sms-service-client-prod1",
    "dmd-workers:vendors.accountsUrl": "https://accounts.prod.reminders-team.io",
    "dmd-workers:vendors.accountsRoleArn": "arn:aws:iam::918273645501:role/acoe-client-prod1",
    "dmd-workers:vendors.publishUrl": "https://publish.prod.reminders-team.io",
    "dmd-workers:email.fromAddress": "reminders@mail.reminders-team.io",
    "dmd-workers:email.identityDomain": "mail.reminders-team.io",
    "dmd-workers:platform.kms": {"create": True},
    "dmd-workers:platform.api.waf.enabled": True,
}


def _set(config: dict[str, Any], key: str, value: Any) -> None:
    """Set `namespace:a.b[1].c` in a stack file's `config:` mapping, as `pulumi config set --path` does."""
    top, _, path = key.partition(".")
    if not path:
        config[top] = value
        return
    node: Any = config.setdefault(top, {})
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part, following in itertools.pairwise(parts):
        node = (
            node[int(part)]
            if isinstance(node, list)
            else node.setdefault(part, [] if following.isdigit() else {})
        )
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def filled_project(tmp_path: Path, changes: dict[str, Any] = FILLED) -> Path:
    """A project folder whose Pulumi.prod1.yaml is the committed template with `changes` set."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.prod1.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        _set(document["config"], key, copy.deepcopy(value))
    (tmp_path / "Pulumi.prod1.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return tmp_path
