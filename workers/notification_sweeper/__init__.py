"""Lambda worker notification_sweeper (see infra/catalog.py for its trigger and access)."""
