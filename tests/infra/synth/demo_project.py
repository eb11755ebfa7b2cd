"""A throwaway Pulumi project for the synth tests: a demo program with two stacks, written to disk."""

from __future__ import annotations

import textwrap
from pathlib import Path

DEMO_PROGRAM = """
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
settings = config.require_object("settings")
enabled = config.require_bool("enabled")
batch = config.require_int("batch")
window = config.require("window")


class Pipeline(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("demo:index:Pipeline", name, None, None)
        child = pulumi.ResourceOptions(parent=self)
        self.inbox = aws.sqs.Queue(f"{name}-inbox", name=f"{name}-inbox", opts=child)
        self.archive = aws.sqs.Queue(
            f"{name}-archive",
            name=f"{name}-archive",
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[self.inbox]),
        )
        self.register_outputs({})


pipeline = Pipeline(settings["pipeline"])
role = aws.iam.Role("role", name=f"{settings['pipeline']}-role", assume_role_policy="{}")
function = aws.lambda_.Function(
    "fn",
    name=f"{settings['pipeline']}-fn",
    role=role.arn,
    runtime="python3.12",
    handler="app.handler",
    code=pulumi.FileArchive(str(Path(__file__).parent / "build" / "fn.zip")),
    publish=True,
    environment={
        "variables": {
            "SETTINGS": json.dumps(settings, sort_keys=True),
            "ENABLED": json.dumps(enabled),
            "BATCH": json.dumps(batch),
            "WINDOW": window,
        }
    },
    opts=pulumi.ResourceOptions(delete_before_replace=True, ignore_changes=["source_code_hash"]),
)
aws.lambda_.EventSourceMapping(
    "inbox-trigger", event_source_arn=pipeline.inbox.arn, function_name=function.arn, batch_size=batch
)
# AWS computes `last_modified`; the mocks leave it out, so it stays unknown in a preview.
aws.sqs.Queue("stamped", name=function.last_modified.apply(lambda stamp: f"stamped-{stamp}"))
pulumi.export("inbox_url", pipeline.inbox.url)
"""

S1_CONFIG = """
config:
  aws:region: eu-west-1
  settings:
    pipeline: orders
    sizes: [1, 2.0, 2.5]
    mode: on
  demo-proj:enabled: true
  batch: 25
  window: 10:30
"""

S2_CONFIG = """
config:
  aws:region: us-west-2
  settings:
    pipeline: refunds
    sizes: []
    mode: off
  enabled: false
  batch: 5
  window: "08:00"
"""


def write_project(root: Path, program: str = DEMO_PROGRAM, **stacks: str) -> Path:
    """A throwaway Pulumi project: Pulumi.yaml, one file per stack, and `__main__.py`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: demo-proj\nruntime: python\n", encoding="utf-8")
    for stack, config in (stacks or {"s1": S1_CONFIG}).items():
        (root / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    (root / "__main__.py").write_text(textwrap.dedent(program), encoding="utf-8")
    return root


def program_source(body: str) -> str:
    """A program body with the Pulumi imports it needs."""
    return "import pulumi\nimport pulumi_aws as aws\n\n" + textwrap.dedent(body)
