"""Graph inputs in the AWS APIs' shapes: parameters named after the input, attributes as text."""

from __future__ import annotations

from sandbox.materialize.api_shapes import attribute_map, compact, same_named, tag_list


def test_inputs_named_like_their_parameter_are_capitalised_and_unset_ones_left_out() -> None:
    # Given inputs, one of them unset
    inputs = {"batchSize": 10, "startingPosition": None, "bisectBatchOnFunctionError": False}
    # When the same-named parameters are taken
    parameters = same_named(inputs, "batchSize", "startingPosition", "bisectBatchOnFunctionError", "absent")
    # Then each set one is there under its API name, a false value included
    assert parameters == {"BatchSize": 10, "BisectBatchOnFunctionError": False}


def test_attributes_are_text_the_apis_take() -> None:
    # Given queue inputs of several types
    inputs = {"delaySeconds": 5, "fifoQueue": True, "redrivePolicy": {"maxReceiveCount": 3}, "other": 1}
    table = {"delaySeconds": "DelaySeconds", "fifoQueue": "FifoQueue", "redrivePolicy": "RedrivePolicy"}
    # Then the attributes are the named ones, as text
    assert attribute_map(inputs, table) == {
        "DelaySeconds": "5",
        "FifoQueue": "true",
        "RedrivePolicy": '{"maxReceiveCount": 3}',
    }


def test_tags_are_sorted_pairs_and_unset_values_are_compacted_away() -> None:
    # Given tags and keyword values, one unset
    # Then tags become sorted key/value pairs, under the names the API wants
    assert tag_list({"b": "2", "a": "1"}, "TagKey", "TagValue") == [
        {"TagKey": "a", "TagValue": "1"},
        {"TagKey": "b", "TagValue": "2"},
    ]
    assert compact(Name="x", Description=None) == {"Name": "x"}
