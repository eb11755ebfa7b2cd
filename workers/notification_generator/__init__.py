"""Lambda worker notification_generator (see infra/catalog.py for its trigger and access)."""
