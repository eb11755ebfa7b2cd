"""Lambda worker demand_stream_to_sqs (see infra/catalog.py for its trigger and access)."""
