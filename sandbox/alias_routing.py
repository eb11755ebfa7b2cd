"""The `live` alias as Lambda routes it: which published version each invocation runs, and with what.

A published version is an immutable snapshot of the function's configuration (handler, environment,
timeout, memory); the alias names a primary version and, in `RoutingConfig.AdditionalVersionWeights`
({version: weight}), the share of invocations another version gets. `VersionRouter` reads the alias
from the emulator at most every `refresh_seconds` (lazily, in the invoking thread: an idle function
costs no calls; invocations that find a read due wait for it, so none runs by a routing older than
the interval), loads a newly routed version's configuration once (versions do not change), and
draws each invocation's version from a seeded sequence, as the drills draw their faults. The
release step (`dmd release`) runs in another process and changes the alias there; an invocation
sees the change at most `refresh_seconds` later. While the emulator does not answer (a restart),
invocations keep the routing last read.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from sandbox.drill_faults import seeded_draw

LOGGER: Final = logging.getLogger("sandbox.alias_routing")
REFRESH_SECONDS: Final = 1.0
ROUTING_DRAW: Final = "alias-routing"  # the draw's kind (`seeded_draw`): apart from the drills' draws
Settings = TypeVar("Settings")


class AliasRoutingError(Exception):
    """The alias's routing cannot be read into versions and weights (e.g. weights over 1)."""


@dataclass(frozen=True)
class AliasRouting:
    """An alias's primary version and the weights of its additional versions (0 to 1 each)."""

    version: str
    additional: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, alias: Mapping[str, Any]) -> AliasRouting:
        """From a GetAlias answer: `FunctionVersion` and `RoutingConfig.AdditionalVersionWeights`."""
        weights = ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        additional = tuple(
            sorted((str(version), float(weight)) for version, weight in weights.items() if float(weight) > 0)
        )
        if any(weight > 1 for _, weight in additional) or sum(weight for _, weight in additional) > 1:
            raise AliasRoutingError(f"additional version weights above 1: {dict(additional)}")
        return cls(version=str(alias["FunctionVersion"]), additional=additional)

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version this routing may run, the primary first."""
        return (self.version, *(version for version, _ in self.additional if version != self.version))

    def pick(self, draw: float) -> str:
        """The version a uniform `draw` in [0, 1) lands on: additional versions first, by their weights."""
        bound = 0.0
        for version, weight in self.additional:
            bound += weight
            if draw < bound:
                return version
        return self.version


class VersionRouter(Generic[Settings]):
    """Routes a function's invocations through its alias: each one gets its version's settings."""

    # `settings_of(configuration)` turns a version's GetFunctionConfiguration answer into what the
    # function runs (the sandbox's overrides applied). The first read
    # happens at construction and fails loudly; later refreshes log and keep the last routing.

    def __init__(
        self,
        lambda_client: Any,
        *,
        function_name: str,
        alias: str,
        settings_of: Callable[[Mapping[str, Any]], Settings],
        refresh_seconds: float = REFRESH_SECONDS,
        seed: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.alias = alias
        self._lambda = lambda_client
        self._settings_of = settings_of
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._seed = seed
        self._ordinals = itertools.count()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._versions: dict[str, Settings] = {}
        self.refreshes = 0  # GetAlias calls made
        self.refresh_errors = 0
        self.alias_arn = ""
        self._routing = self._read()
        self._read_at = monotonic()

    @property
    def routing(self) -> AliasRouting:
        """The routing last read."""
        return self._routing

    @property
    def primary(self) -> Settings:
        """The settings of the alias's primary version (as last read)."""
        with self._lock:
            return self._versions[self._routing.version]

    def settings_of_version(self, version: str) -> Settings:
        """The settings of a version the alias routed to (KeyError for one it never did)."""
        with self._lock:
            return self._versions[version]

    def seed(self, seed: int) -> None:
        """Draw the versions from `seed` from now on (the sequence starts again)."""
        with self._lock:
            self._seed, self._ordinals = seed, itertools.count()

    def route(self) -> Settings:
        """The settings of the version this invocation runs (the alias re-read first when due)."""
        if self._monotonic() - self._read_at >= self._refresh_seconds:
            with self._refreshing:  # concurrent invocations wait for the one read, then route by it
                if self._monotonic() - self._read_at >= self._refresh_seconds:
                    self._refresh()
        with self._lock:
            routing, ordinal, seed = self._routing, next(self._ordinals), self._seed
            version = routing.pick(seeded_draw(seed, ROUTING_DRAW, self.function_name, ordinal))
            return self._versions[version]

    def refresh(self) -> None:
        """Re-read the alias now."""
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        # Called with `_refreshing` held. A failed read keeps the routing until the next interval.
        try:
            routing = self._read()
        except (BotoCoreError, ClientError, AliasRoutingError) as error:
            self.refresh_errors += 1
            LOGGER.warning(
                "%s:%s: alias not re-read, routing kept: %s", self.function_name, self.alias, error
            )
        else:
            with self._lock:
                self._routing = routing
        finally:
            self._read_at = self._monotonic()

    def _read(self) -> AliasRouting:
        self.refreshes += 1
        alias = self._lambda.get_alias(FunctionName=self.function_name, Name=self.alias)
        self.alias_arn = str(alias["AliasArn"])
        routing = AliasRouting.of(alias)
        for version in routing.versions:
            with self._lock:
                known = version in self._versions
            if not known:  # a published version never changes: read once
                configuration = self._lambda.get_function_configuration(
                    FunctionName=self.function_name, Qualifier=version
                )
                settings = self._settings_of(configuration)
                with self._lock:
                    self._versions[version] = settings
        return routing
