"""Reading back what the emulator stored: only real differences are reported, each by its field path."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.materialize.readback import differences


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ('{"a": 1, "b": [2]}', '{"b":[2],"a":1}'),  # a JSON document, reformatted
        (30, "30"),  # a number echoed as text
        (True, "true"),  # a boolean echoed as text
        ({"Mode": "Active"}, {"Mode": "Active", "Extra": 1}),  # fields the request did not send
    ],
)
def test_what_the_emulator_echoes_in_another_form_is_no_difference(sent: Any, stored: Any) -> None:
    # Given a value sent and its read-back in the emulator's own form
    # Then no difference is reported
    assert list(differences(sent, stored)) == []


def test_each_absent_or_changed_field_is_reported_with_its_path() -> None:
    # Given a request and a read-back that lacks one field and changed a nested one
    sent = {"Name": "q", "Config": {"Size": 1, "Layers": ["a", "b"]}, "Tags": ["x"]}
    stored = {"Name": "q", "Config": {"Size": 2, "Layers": ["a", "c"]}, "Tags": None}
    # When they are compared
    found = list(differences(sent, stored))
    # Then each difference names its field, in the order of the request
    assert found == [
        ("Config.Size", 1, 2),
        ("Config.Layers[1]", "b", "c"),
        ("Tags", ["x"], None),
    ]


def test_a_list_of_another_length_is_one_difference() -> None:
    # Given a list read back shorter than sent
    # Then the whole list is the difference
    assert list(differences({"Layers": ["a", "b"]}, {"Layers": ["a"]})) == [("Layers", ["a", "b"], ["a"])]
