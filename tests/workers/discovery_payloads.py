"""Discovery event payloads recorded from the real API (tests/events/discovery-event-*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
# The third act of discovery-event-festival-multi.json; tests configure it as a suppressed artist.
SUPPRESSED_ARTIST_ID = "K8vZ9175BhV"


def discovery_payload(name: str) -> dict[str, Any]:
    """A fixture from tests/events/discovery-event-<name>.json (a fresh copy)."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"discovery-event-{name}.json").read_text())
    return loaded
