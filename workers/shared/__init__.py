"""Shared runtime of the workers: settings, observability, clients, queue sender, models, repository."""
