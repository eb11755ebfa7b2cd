"""The stream forwarder's environment: exactly what infra declares for it (the short-url queue)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import StreamWorkerSettings


class StreamToSqsSettings(StreamWorkerSettings):
    """SHORT_URL_QUEUE_SEND's variable; the worker has no tunables."""

    short_url_queue_url: str = Field(pattern=r"^https?://\S+$")
