"""Lambda worker event_details (see infra/catalog.py for its trigger and access)."""
