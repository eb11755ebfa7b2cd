"""Discovery API v2 events: the `client`, business `rules`, `normalize` into records, `cache`-first reads.

Import the module you need (`workers.shared.discovery.rules`, ...): this package imports nothing, so a
worker that only needs the id patterns does not load the HTTP client or the repository.
"""
