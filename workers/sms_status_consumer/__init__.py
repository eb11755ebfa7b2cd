"""Lambda worker sms_status_consumer (see infra/catalog.py for its trigger and access)."""
