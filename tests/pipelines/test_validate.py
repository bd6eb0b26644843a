"""`tfpipe validate` on real data: Adult's test split passes against its train split; a drifted copy of Adult
rows fails naming exactly the changed features; the Anomalies proto round-trips; the exit status says it."""
from __future__ import annotations

import os

import pytest
from google.protobuf import json_format, text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from tfpipe.cli import main
from tfpipe.demo import adult_preprocess_options
from tfpipe.pipelines import run_preprocess
from tfpipe.pipelines.validate import ValidateOptions, validate


@pytest.fixture(scope="module")
def drifted_dir(tmp_path_factory, adult_raw_dir) -> str:
    """2000 Adult test rows with age + 15 years, workclass 'Private' renamed, occupation blanked in 30% of rows."""
    raw = tmp_path_factory.mktemp("drifted_raw")
    lines = open(os.path.join(adult_raw_dir, "adult.test"), encoding="utf-8").read().splitlines()[1:2001]
    out = []
    for i, line in enumerate(lines):
        cells = line.split(", ")
        cells[0] = str(int(cells[0]) + 15)
        cells[1] = "Privately-held" if cells[1] == "Private" else cells[1]
        cells[6] = "?" if i % 10 < 3 else cells[6]          # "?" is how Adult marks a missing value
        out.append(", ".join(cells))
    (raw / "day.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    output = str(tmp_path_factory.mktemp("drifted") / "day")
    run_preprocess(adult_preprocess_options(output, progress=False, inputs=[f"train={raw / 'day.csv'}"]))
    return output


def test_two_random_halves_pass(tmp_path, adult_raw_dir):
    """Adult's train file split in two by row hash: the defaults find nothing."""
    output = str(tmp_path / "halves")
    run_preprocess(adult_preprocess_options(output, progress=False, report=False, split="a=0.5,b=0.5",
                                            inputs=[os.path.join(adult_raw_dir, "adult.data")]))
    reports, anomalies = validate(output, split="b", against_split="a")
    assert not anomalies.anomaly_info, {k: v.description for k, v in anomalies.anomaly_info.items()}
    assert max(r.drift for r in reports) < 0.05


def test_test_split_passes_against_train_split(adult_data_dir):
    reports, anomalies = validate(adult_data_dir, split="test", against_split="train")
    assert not anomalies.anomaly_info, {k: v.description for k, v in anomalies.anomaly_info.items()}
    drift = {r.name: r.drift for r in reports}
    assert len(drift) == 15 and max(drift.values()) < 0.05      # the same distribution: small figures
    assert {r.measure for r in reports if r.name == "age"} == {"JENSEN_SHANNON_DIVERGENCE"}
    assert {r.measure for r in reports if r.name == "workclass"} == {"L_INFTY"}


def test_drifted_copy_fails_naming_the_changed_features(drifted_dir, adult_data_dir, tmp_path, capsys):
    reports, anomalies = validate(drifted_dir, against=adult_data_dir)
    assert sorted(anomalies.anomaly_info) == ["age", "occupation", "workclass"]
    kinds = {name: {anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason}
             for name, info in anomalies.anomaly_info.items()}
    assert {"COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "INT_TYPE_BIG_INT"} <= kinds["age"]
    assert {"ENUM_TYPE_UNEXPECTED_STRING_VALUES", "COMPARATOR_L_INFTY_HIGH"} <= kinds["workclass"]
    assert kinds["occupation"] == {"FEATURE_TYPE_LOW_FRACTION_PRESENT"}
    assert "Privately-held" in anomalies.anomaly_info["workclass"].description
    age = [r for r in reports if r.name == "age"][0]
    assert age.drift > 0.2                                      # age + 15 years: JSD 0.27
    # the CLI: a table naming them, exit status 1, the proto as JSON that parses back to the same message
    path = str(tmp_path / "anomalies.json")
    assert main(["validate", "--data", drifted_dir, "--against", adult_data_dir, "--json", path]) == 1
    assert "3 anomalous feature(s): age, occupation, workclass" in capsys.readouterr().out
    parsed = json_format.Parse(open(path).read(), anomalies_pb2.Anomalies())
    assert parsed == anomalies
    assert text_format.Parse(text_format.MessageToString(anomalies), anomalies_pb2.Anomalies()) == anomalies
    assert len(parsed.drift_skew_info) == 15
    # skipping the drifted features and loosening nothing else: clean, exit 0
    assert main(["validate", "--data", drifted_dir, "--against", adult_data_dir, "--skip",
                 "age,workclass,occupation"]) == 0


def test_schema_changes_and_bad_input(adult_data_dir, drifted_dir):
    from tfpipe.pipelines import artifacts
    from tfpipe.pipelines.validate import compare

    schema = artifacts.load_schema(adult_data_dir)
    ref = artifacts.load_statistics(adult_data_dir, "train")
    new = artifacts.load_statistics(drifted_dir, "train")
    renamed = type(new)()
    renamed.CopyFrom(new)
    for feature in renamed.features:
        if feature.path.step[0] == "sex":
            feature.path.step[0] = "gender"                       # a renamed column: one new, one missing
    reasons = {r.name: [k for k, _, _ in r.reasons] for r in compare(schema, ref, renamed, ValidateOptions(
        skip=("age", "workclass", "occupation")))}
    assert reasons["gender"] == ["SCHEMA_NEW_COLUMN"] and reasons["sex"] == ["SCHEMA_MISSING_COLUMN"]
    with pytest.raises(ValueError, match="against itself"):
        validate(adult_data_dir)
    with pytest.raises(ValueError, match="drift_threshold"):
        ValidateOptions(drift_threshold=2.0)
    assert main(["validate", "--data", adult_data_dir, "--split", "nope", "--against-split", "train"]) == 2
