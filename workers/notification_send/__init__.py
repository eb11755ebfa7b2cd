"""Lambda worker notification_send (see infra/catalog.py for its trigger and access)."""
