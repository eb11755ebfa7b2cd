"""The Pulumi side of the fleet: stack config, the worker catalog, components and the offline synth."""
