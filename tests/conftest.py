"""Suite-wide fixtures: every test runs hermetic, whatever the developer's shell holds."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Property tests (hypothesis): the same examples on every run and machine, so a CI failure reproduces
# locally and `make test` never fails by luck; `HYPOTHESIS_PROFILE=explore` draws fresh ones (and more)
# when hunting for new counterexamples. No deadline: this 2-core machine runs tests in parallel, and a
# slow example is not a wrong one. 100 examples meet each strategy's fault classes several times over.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, max_examples=1_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def hermetic_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reaches real AWS: developer credentials, profiles and instance metadata are out of reach."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    # Files that do not exist, so botocore finds no profile, SSO session or credentials on disk.
    absent = tmp_path_factory.getbasetemp() / "hermetic-aws-absent"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(absent / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(absent / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(autouse=True)
def hermetic_pulumi_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi.Config` falls back to PULUMI_CONFIG* variables; a CLI shell must not leak config into tests."""
    for key in list(os.environ):
        if key.startswith("PULUMI_CONFIG"):
            monkeypatch.delenv(key)
