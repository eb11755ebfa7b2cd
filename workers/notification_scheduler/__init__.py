"""Lambda worker notification_scheduler (see infra/catalog.py for its trigger and access)."""
