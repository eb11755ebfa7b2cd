"""Cross references of a graph: the ARNs, URLs and ids the recording mocks invented → the emulator's."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.synth import OUTPUT_TEMPLATES, CloudContext, RecordedResource, Secret


class References:
    """Learns mock → real output pairs per resource and rewrites them wherever inputs embed them."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self._account_id = account_id
        self._region = region
        self._real: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def mock_outputs(self, resource: RecordedResource) -> dict[str, str]:
        """The id and outputs the recording mocks gave this resource, flattened to strings."""
        template = OUTPUT_TEMPLATES.get(resource.type_)
        if template is None:
            return {}
        context = CloudContext(
            type_=resource.type_,
            logical_name=resource.name,
            inputs=resource.inputs,
            region=self._region,
            account=self._account_id,
        )
        cloud = template(context)
        return {"id": cloud.id, **dict(_flatten(cloud.outputs))}

    def learn(self, mock: Mapping[str, str], real: Mapping[str, str]) -> None:
        """Remember each distinctive mock value whose real counterpart differs."""
        for key, mock_value in mock.items():
            real_value = real.get(key)
            if real_value is not None and real_value != mock_value and _is_distinctive(mock_value):
                self._real[mock_value] = real_value
                self._pattern = None

    def resolve(self, value: Any) -> Any:
        """The value with every known mock ARN/URL/id replaced by the emulator's, at any depth."""
        if isinstance(value, Secret):
            return self.resolve(value.value)
        if isinstance(value, str):
            return self._rewrite(value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item) for item in value]
        return value

    def _rewrite(self, text: str) -> str:
        if not self._real:
            return text
        if self._pattern is None:
            # Longest first, and never inside a longer name: `…:queue` must not match in `…:queue-dlq`.
            alternatives = "|".join(re.escape(mock) for mock in sorted(self._real, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])")
        return self._pattern.sub(lambda match: self._real[match.group(0)], text)


def _flatten(outputs: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in outputs.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def _is_distinctive(value: str) -> bool:
    """ARNs, URLs and long generated ids; never short values like a version number."""
    return value.startswith("arn:") or "://" in value or (len(value) >= 20 and not value.isdigit())
