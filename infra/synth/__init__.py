"""Offline synth: run a Pulumi program under recording mocks with a stack's committed config."""

from infra.synth.cloud_outputs import OUTPUT_TEMPLATES, CloudContext
from infra.synth.errors import (
    DuplicateUrnError,
    ExistingResourceReadError,
    InvokeNotAllowedError,
    SecureConfigError,
    StackFileError,
    SynthError,
    TransformNotSupportedError,
)
from infra.synth.graph import RecordedResource, ResourceGraph
from infra.synth.program_run import run_under_mocks, synthesize
from infra.synth.recording import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, RecordingMocks
from infra.synth.stack_config import stack_config
from infra.synth.values import SECRET_PLACEHOLDER, UNKNOWN_PLACEHOLDER, Secret

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "OUTPUT_TEMPLATES",
    "SECRET_PLACEHOLDER",
    "UNKNOWN_PLACEHOLDER",
    "CloudContext",
    "DuplicateUrnError",
    "ExistingResourceReadError",
    "InvokeNotAllowedError",
    "RecordedResource",
    "RecordingMocks",
    "ResourceGraph",
    "Secret",
    "SecureConfigError",
    "StackFileError",
    "SynthError",
    "TransformNotSupportedError",
    "run_under_mocks",
    "stack_config",
    "synthesize",
]
