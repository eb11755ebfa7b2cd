"""Lambda worker proxy_tm_account_service (see infra/catalog.py for its trigger and access)."""
