"""Shared runtime of the workers: settings, observability, clients, models, repository, records."""
