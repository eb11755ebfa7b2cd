"""The Pulumi SDK internals the offline synth and stack-config loading rely on, behind one small surface.

The SDK has no public API for any of these; tests/infra/test_pulumi_runtime.py pins each one, so an
SDK upgrade that moves one fails there first, naming it:

- `settings.SETTINGS.outputs`, `settings.SETTINGS.lock` and `settings.ROOT`: per-run state that
  `set_mocks` leaves in place; reset so a run never awaits another run's tasks or reuses its root stack.
- `settings.SETTINGS.root_directory`: what `get_root_directory()` answers; `set_mocks` takes no root.
- `settings._shutdown_callbacks()`: stops the gRPC callback server that hooks and transforms start.
- `stack.wait_for_rpcs()`: returns once every registration the program started reached the monitor.
- `mocks.MockMonitor` (`RegisterResource(request)`, `make_urn(parent, type, name)`): the wire request
  carries the resource options that `Mocks.new_resource` never sees.
- `rpc.UNKNOWN`, `output.Unknown`, `rpc.is_rpc_secret` and `rpc.unwrap_rpc_secret`: how deserialized
  inputs mark unknown and secret values.
- `config.CONFIG` (besides the public `get_config_env()`): where the program's configured keys live;
  `pulumi.Config` reads one known key at a time and cannot list them.
- The root stack resource's `outputs` attribute: the values the program passed to `pulumi.export`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import _shutdown_callbacks
from pulumi.runtime.stack import wait_for_rpcs

STACK_TYPE: Final = "pulumi:pulumi:Stack"

RegistrationHook = Callable[[str, Any], AbstractContextManager[None]]


def reset_run_state() -> None:
    """Forget the pending outputs, output lock and root stack of any earlier run in this context."""
    settings.SETTINGS.outputs = set()
    settings.SETTINGS.lock = threading.Lock()
    settings.ROOT.set(None)


def set_root_directory(path: str) -> None:
    """Make `pulumi.runtime.get_root_directory()` answer `path` (call after `set_mocks`, which clears it)."""
    settings.SETTINGS.root_directory = path


async def wait_for_registrations() -> None:
    """Wait until every resource registration the program started has reached the monitor."""
    await wait_for_rpcs()


async def stop_callback_servers() -> None:
    """Stop the gRPC callback server that resource hooks and transforms start on the running loop."""
    await _shutdown_callbacks()  # type: ignore[no-untyped-call]


class RegistrationMonitor(MockMonitor):
    """The SDK's mock monitor, running `hook(urn, request)` around each resource's wire registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks, hook: RegistrationHook) -> None:
        super().__init__(mocks)
        self._hook = hook

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        """Register as the SDK's monitor does, inside the hook (the root stack registers without it)."""
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._hook(urn, request):
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def is_unknown(value: Any) -> bool:
    """Whether a deserialized input is a value not known yet (a preview's computed output)."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN)


def is_secret(value: Any) -> bool:
    """Whether a deserialized input is a wrapped secret."""
    return bool(rpc.is_rpc_secret(value))


def secret_value(value: Any) -> Any:
    """The value inside a wrapped secret."""
    return rpc.unwrap_rpc_secret(value)


def configured_keys() -> set[str]:
    """Every `<namespace>:<key>` configured for the running program, set or not read yet."""
    return {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}


def stack_exports() -> dict[str, Any]:
    """The program's `pulumi.export` names and values, as the root stack resource holds them."""
    root = settings.get_root_resource()
    return dict(getattr(root, "outputs", {}) or {})
