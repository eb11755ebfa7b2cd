"""The `depends_on` each resource declared, which the wire request only carries merged with other edges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from infra.synth.wire import urn_name


class DeclaredDependsOn:
    """A legacy stack transformation: it runs in-process (so under mocks) and sees each `depends_on`."""

    def __init__(self) -> None:
        self._declared: list[tuple[pulumi.Resource, Any]] = []

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> None:
        """Note the resource's declared `depends_on`; the resource itself is left as it is."""
        # `opts.urn` marks a lookup of a resource that already exists (e.g. a rebuilt reference).
        if args.opts.urn is None and args.opts.depends_on is not None:
            self._declared.append((args.resource, args.opts.depends_on))

    async def by_urn(self) -> dict[str, list[str]]:
        """Each resource's URN with the names it declared in `depends_on`."""
        declared: dict[str, list[str]] = {}
        for resource, depends_on in self._declared:
            # A constructor that failed after this transformation (and was caught) never registered.
            if not hasattr(resource, "urn"):
                continue
            urn = await resource.urn.future()
            resolved = await pulumi.Output.from_input(depends_on).future()
            items = resolved if isinstance(resolved, Sequence) else [resolved]
            names = [
                urn_name(str(await item.urn.future())) for item in items if isinstance(item, pulumi.Resource)
            ]
            if urn:
                declared[urn] = sorted(names)
        return declared
