"""Lambda worker shorten_event_url (see infra/catalog.py for its trigger and access)."""
