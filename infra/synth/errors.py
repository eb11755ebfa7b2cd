"""Why an offline synth refuses a program or a stack: one error type per reason."""

from __future__ import annotations


class SynthError(Exception):
    """The offline synth cannot produce a faithful graph for this program or stack."""


class StackFileError(SynthError):
    """A Pulumi.yaml or Pulumi.<stack>.yaml file is missing or cannot be used offline."""


class SecureConfigError(StackFileError):
    """A stack file holds an encrypted `secure:` value, which an offline synth cannot decrypt."""


class InvokeNotAllowedError(SynthError):
    """The program called a provider function (data source); config and outputs must serve instead."""


class ExistingResourceReadError(SynthError):
    """The program read an existing resource or stack reference, which needs a real cloud and backend."""


class TransformNotSupportedError(SynthError):
    """The program uses engine-side transforms, which mocks never run, so the graph would be wrong."""


class DuplicateUrnError(SynthError):
    """Two resources were registered with the same URN, which the real engine rejects."""
