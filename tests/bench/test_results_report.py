"""bench/RESULTS.md across partial runs: rows and detail sections of the groups not re-run are kept."""

from __future__ import annotations

from bench.__main__ import CHANGES, Result, group_of, kept_details, kept_rows, report

PREVIOUS = """# Benchmark results

Last run: 2026-11-29 03:30 UTC at commit `b4f1653` on 2 cores.

| benchmark | measured | baseline | ratio | notes |
|---|---|---|---|---|
| pipeline, 50,000-fan sale (sandbox, speed 1) | 1901.170 s | bare boto3: 1552.653 s | 1.22× | 30.8/s |
| synth prod1 (8 workers) | 0.606 s | same resources, no components: 0.227 s | 2.67× | 205 resources |
| cold import notification_send | 0.580 s | import boto3: 0.306 s | 1.89× | target ≤ 1.5× |

### Pipeline, 50,000 fans: AWS calls by operation

| operation | calls | per delivered |
|---|---|---|
| dynamodb:UpdateItem | 214,265 | 3.75 |

## What moved these figures

old text
"""


def test_each_row_belongs_to_the_group_that_measures_it() -> None:
    # Given the names the benchmarks give their rows  # Then each maps to its --only group
    assert group_of("synth prod1 (9 workers) (vs typed classes)") == "synth"
    assert group_of("cold import event_details (with bytecode)") == "imports"
    assert group_of("generator, 50,000 fans (moto server)") == "generator"
    assert group_of("pipeline, 50,000 fans: aws calls by operation") == "pipeline"
    assert group_of("something else") is None


def test_a_partial_run_replaces_its_groups_rows_and_keeps_the_others_with_their_run() -> None:
    # Given a run of the imports and synth groups only
    rows = kept_rows(PREVIOUS, {"imports", "synth"})
    details = kept_details(PREVIOUS, {"imports", "synth"})

    # Then only the pipeline's row is kept (the renamed rows of re-run groups are dropped), marked
    assert rows == [
        "| pipeline, 50,000-fan sale (sandbox, speed 1) | 1901.170 s | bare boto3: 1552.653 s | 1.22× "
        "| 30.8/s (measured 2026-11-29 03:30 UTC at commit `b4f1653`) |"
    ]
    # And its detail section is kept whole, without the fixed notes after it
    assert len(details) == 1
    assert details[0].startswith("\n### Pipeline, 50,000 fans: AWS calls by operation")
    assert "dynamodb:UpdateItem" in details[0]
    assert "old text" not in details[0]


def test_a_re_run_group_drops_its_old_detail_and_the_report_ends_with_the_notes_once() -> None:
    # Given a new pipeline result with its own detail
    result = Result(
        "pipeline, 500-fan sale", 10.0, "bare boto3", 8.0, "notes", detail="### Pipeline, 500 fans\n"
    )

    # When the report is written after a pipeline-only run
    text = report([result], kept_rows(PREVIOUS, {"pipeline"}), kept_details(PREVIOUS, {"pipeline"}))

    # Then the old pipeline detail is gone, the other groups' rows stay, and the notes appear once
    assert "50,000 fans: AWS calls" not in text
    assert "synth prod1 (8 workers)" in text
    assert text.count(CHANGES.strip().splitlines()[0]) == 1
    assert "old text" not in text
