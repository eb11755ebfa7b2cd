"""The configuration reference is generated from the models, so it cannot drift from the code."""

from infra import config_docs
from infra.config import StreamTriggerSettings


def test_committed_configuration_reference_matches_the_models() -> None:
    # Given the committed reference
    committed = config_docs.DOC_PATH.read_text(encoding="utf-8")

    # When it is rendered again from the config models
    rendered = config_docs.render()

    # Then nothing changed (otherwise: run `dmd config docs` and commit the result)
    assert committed == rendered, "docs/configuration.md is stale: run `dmd config docs`"


def test_reference_documents_every_stream_trigger_key_with_its_range_and_meaning() -> None:
    # Given the rendered reference
    text = config_docs.render()

    # When each stream trigger field is looked up by its YAML key
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `trigger.")}

    # Then every field is there, camelCase, with a meaning
    for name, field in StreamTriggerSettings.model_fields.items():
        row = rows[f"`trigger.{field.alias or name}`"]
        assert row.rstrip(" |").split("|")[-1].strip(), f"{name} has no meaning in the reference"
    assert "≥ 1, ≤ 10000" in rows["`trigger.batchSize`"]
