"""The Lambda workers: one package per worker of infra/catalog.py, and `shared/`, the runtime they use."""
