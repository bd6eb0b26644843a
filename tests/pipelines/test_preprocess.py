"""End-to-end runs of the Beam job (DirectRunner, both cores) on the bundled Adult data and on bad input."""
import glob
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from tfpipe.demo import ADULT_COLUMNS, adult_preprocess_options
from tfpipe.pipelines import PreprocessOptions, TooManyRejectedRows, run_preprocess
from tfpipe.pipelines.artifacts import iter_rejected, load_manifest, load_schema, shard_paths
from tfpipe.pipelines.publish import NotATfpipeOutput


def _count(paths, compression=""):
    return sum(1 for _ in tf.data.TFRecordDataset(paths, compression_type=compression))


def test_adult_counts_add_up_and_tf_data_and_tfds_read_them_back(adult_data_dir):
    import tensorflow_datasets as tfds

    manifest = load_manifest(adult_data_dir)
    assert manifest["rows_written"] == {"train": 32561, "test": 16281}
    assert manifest["rows_rejected"] == 1 and manifest["rows_read"] == 32561 + 16281 + 1
    assert manifest["blank_lines_skipped"] == 2  # each file ends with an empty line
    rejected = list(iter_rejected(adult_data_dir))
    assert manifest["rejected_files"] == ["rejected/rejected-00001.jsonl"]   # only adult.test has a rejected row
    assert rejected == [{"source": rejected[0]["source"], "row": 1, "field": None,
                         "reason": "wrong field count: expected 15 fields, found 1", "raw": "|1x3 Cross validator"}]
    assert rejected[0]["source"].endswith("adult.test")
    assert _count(shard_paths(adult_data_dir, "train")) == 32561
    builder = tfds.builder_from_directory(os.path.join(adult_data_dir, manifest["tfds_dir"]))
    assert builder.info.splits["test"].num_examples == 16281
    assert sum(1 for _ in builder.as_dataset(split="test")) == 16281
    first = next(iter(builder.as_dataset(split="train").take(1)))
    assert first["age"].numpy() == 39 and first["workclass"].numpy().tolist() == [b"State-gov"]
    assert first["income"].numpy() == b"<=50K"
    test_labels = set()
    for batch in builder.as_dataset(split="test").map(lambda x: x["income"]).batch(8192):
        test_labels.update(batch.numpy().tolist())
    assert test_labels == {b"<=50K", b">50K"}  # the test file's trailing dots were mapped


def test_inferred_adult_schema(adult_data_dir):
    features = {f.name: f for f in load_schema(adult_data_dir).feature}
    assert list(features) == ADULT_COLUMNS
    assert features["age"].type == 1 + 1  # INT
    assert features["workclass"].presence.min_fraction < 1 and features["age"].presence.min_fraction == 1
    assert features["education"].domain == "education"


def _bad_rows_csv(path):
    good = ["39,State-gov,13,Bachelors,<=50K", "50,Private,9,HS-grad,>50K", "28,Private,10,Some-college,<=50K"]
    rows = good * 20
    bad = {
        "wrong field count": "41,Private,9",
        "not an integer": "forty,Private,9,HS-grad,<=50K",
        "NaN is not allowed": "40,Private,nan,HS-grad,<=50K",
        "infinity is not allowed": "40,Private,inf,HS-grad,<=50K",
        "invalid UTF-8": b"40,Priv\xffate,9,HS-grad,<=50K",
        "missing required value": ",Private,9,HS-grad,<=50K",
        "label missing": "40,Private,9,HS-grad,",
        "field over the size limit": "40,Private,9," + "x" * 300 + ",<=50K",
        "not in the schema's domain": "40,Private,9,HS-grad,maybe",
    }
    lines = [b"age,workclass,score,education,label"] + [r.encode() for r in rows]
    positions = {}
    for index, (kind, row) in enumerate(bad.items()):
        lines.insert(5 + 6 * index, row if isinstance(row, bytes) else row.encode())
        positions[kind] = 5 + 6 * index + 1  # 1-based line number in the file
    path.write_bytes(b"\n".join(lines) + b"\n")
    return positions, len(rows)


def _schema_for_bad_rows(tmp_path):
    from tensorflow_metadata.proto.v0 import schema_pb2
    from google.protobuf import text_format

    schema = text_format.Parse("""
      feature { name: "age" type: INT presence { min_fraction: 1 } shape { dim { size: 1 } } }
      feature { name: "workclass" type: BYTES value_count { min: 0 max: 1 } }
      feature { name: "score" type: FLOAT value_count { min: 0 max: 1 }
                float_domain { disallow_nan: true disallow_inf: true } }
      feature { name: "education" type: BYTES value_count { min: 0 max: 1 } }
      feature { name: "label" type: BYTES domain: "label" value_count { min: 0 max: 1 } }
      string_domain { name: "label" value: "<=50K" value: ">50K" }
    """, schema_pb2.Schema())
    path = tmp_path / "schema.pbtxt"
    path.write_text(text_format.MessageToString(schema))
    return str(path)


def test_every_kind_of_bad_row_is_rejected_with_file_row_and_field(tmp_path):
    csv = tmp_path / "bad.csv"
    positions, good = _bad_rows_csv(csv)
    manifest = run_preprocess(PreprocessOptions(
        inputs=[str(csv)], output=str(tmp_path / "out"), label="label", schema=_schema_for_bad_rows(tmp_path),
        max_field_bytes=100, max_rejected_fraction=0.5, chunk_bytes=256, progress=False))
    rejected = list(iter_rejected(str(tmp_path / "out")))
    by_row = {r["row"]: r for r in rejected}
    assert manifest["rows_read"] == good + len(positions)
    assert manifest["rows_read"] == sum(manifest["rows_written"].values()) + manifest["rows_rejected"]
    assert manifest["rows_rejected"] == len(positions) == len(rejected)
    expected_fields = {"wrong field count": None, "not an integer": "age", "NaN is not allowed": "score",
                       "infinity is not allowed": "score", "invalid UTF-8": "workclass",
                       "missing required value": "age", "label missing": "label",
                       "field over the size limit": "education", "not in the schema's domain": "label"}
    for kind, row in positions.items():
        record = by_row[row]
        assert record["source"] == str(csv) and record["field"] == expected_fields[kind], (kind, record)
        reason = "missing required value" if kind == "label missing" else kind
        assert record["reason"].startswith(reason), (kind, record)
        assert record["raw"] == open(csv, "rb").read().split(b"\n")[row - 1].decode("utf-8", "backslashreplace")
    assert _count(shard_paths(str(tmp_path / "out"), "train")) == good


def test_too_many_rejected_rows_fail_and_leave_no_dataset(tmp_path):
    csv = tmp_path / "bad.csv"
    _bad_rows_csv(csv)
    output = tmp_path / "out"
    with pytest.raises(TooManyRejectedRows, match="rows rejected") as error:
        run_preprocess(PreprocessOptions(inputs=[str(csv)], output=str(output), label="label",
                                         schema=_schema_for_bad_rows(tmp_path), max_rejected_fraction=0.01,
                                         max_field_bytes=100, progress=False))
    assert "row" in str(error.value) and str(csv) in str(error.value)
    assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.rejected.jsonl", "schema.pbtxt"]
    assert len(open(tmp_path / "out.rejected.jsonl").readlines()) == 9


def test_rerun_is_byte_identical_and_existing_output_is_refused(tmp_path, adult_raw_dir):
    def run(output, **extra):
        return run_preprocess(adult_preprocess_options(
            str(output), inputs=[os.path.join(adult_raw_dir, "adult.data")], split="train=0.8,eval=0.2",
            key=["fnlwgt", "age"], num_shards=3, chunk_bytes=1 << 20, dataset_name="adult", progress=False, **extra))

    first = run(tmp_path / "a")
    run(tmp_path / "b")
    files_a = sorted(glob.glob(str(tmp_path / "a" / "tfds" / "*.tfrecord-*")))
    assert len(files_a) == 6
    for path in files_a + [str(tmp_path / "a" / n) for n in ("schema.pbtxt", "statistics.pbtxt")]:
        assert open(path, "rb").read() == open(path.replace(str(tmp_path / "a"), str(tmp_path / "b")), "rb").read()
    assert 0.78 < first["rows_written"]["train"] / 32561 < 0.82
    with pytest.raises(NotATfpipeOutput, match="--overwrite"):
        run(tmp_path / "a", overwrite=False)
    assert sorted(os.listdir(tmp_path / "a")) == ["manifest.json", "report", "report.html",
                                                  "schema.pbtxt", "statistics.pbtxt", "tfds"]   # no scratch
    # --overwrite replaces a previous tfpipe output (and leaves no temporary sibling behind) ...
    run(tmp_path / "a", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
    # ... but never a directory or file that tfpipe did not write: refused before any work, nothing touched.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    (tmp_path / "file").write_text("x")
    for target in (mine, tmp_path / "file", tmp_path / "a" / "tfds"):
        with pytest.raises(NotATfpipeOutput, match="refusing to replace"):
            run(target, overwrite=True)
    assert (mine / "thesis.txt").read_text() == "years of work" and (tmp_path / "file").read_text() == "x"
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "file", "mine"]


def test_parquet_and_jsonl_give_the_same_examples_as_csv(tmp_path, adult_raw_dir):
    frame = pd.read_csv(os.path.join(adult_raw_dir, "adult.data"), names=ADULT_COLUMNS, skipinitialspace=True,
                        na_values=["?"], keep_default_na=False).head(3000)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), str(tmp_path / "adult.parquet"),
                   row_group_size=1000)
    frame.to_json(tmp_path / "adult.jsonl", orient="records", lines=True)
    frame.to_csv(tmp_path / "adult.csv", index=False)
    parsed = {}
    for name in ("adult.csv", "adult.parquet", "adult.jsonl"):
        output = tmp_path / f"out-{name}"
        manifest = run_preprocess(PreprocessOptions(inputs=[str(tmp_path / name)], output=str(output),
                                                    label="income", progress=False, dataset_name="adult"))
        assert manifest["rows_written"] == {"train": 3000}
        parsed[name] = [r.numpy() for r in tf.data.TFRecordDataset(shard_paths(str(output), "train"))]
        assert load_schema(str(output)).feature[0].name == "age"
    assert parsed["adult.csv"] == parsed["adult.jsonl"]
    # Parquet keeps pandas' float64 for columns with missing values; compare parsed values instead of bytes.
    assert len(parsed["adult.parquet"]) == 3000
    example = tf.train.Example.FromString(parsed["adult.parquet"][0])
    assert example.features.feature["education"].bytes_list.value == [b"Bachelors"]


def test_gzip_shards_are_readable_by_tf_data(tmp_path, adult_raw_dir):
    manifest = run_preprocess(adult_preprocess_options(
        str(tmp_path / "gz"), inputs=[os.path.join(adult_raw_dir, "adult.data")], compression="gzip",
        progress=False))
    assert manifest["tfds_dir"] is None
    assert _count(shard_paths(str(tmp_path / "gz"), "train"), "GZIP") == 32561


def test_cli_reports_errors_clearly(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "tfpipe.cli", "preprocess", "--input", str(tmp_path / "none.csv"),
                             "--output", str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "no file matches" in result.stderr


def test_multiline_csv_rejects_name_the_first_line_and_quote_the_record(tmp_path):
    """A record spanning lines (a quoted newline) shifts the lines after it; invalid UTF-8 is rejected, not fatal."""
    source = tmp_path / "t.csv"
    source.write_bytes(b'id,x,s\n1,2.5,"a,b"\n2,3,"multi\nline"\n3,4,ok\n4,,\xff\xfe\n5,x,"two\r\nlines"\n6,7,z\n')
    manifest = run_preprocess(PreprocessOptions(inputs=[f"train={source}"], output=str(tmp_path / "out"),
                                                csv_multiline=True, max_rejected_fraction=1.0, progress=False))
    assert manifest["rows_read"] == 6 and manifest["rows_rejected"] == 1
    [record] = list(iter_rejected(str(tmp_path / "out")))
    assert (record["row"], record["field"], record["raw"]) == (6, "s", "4,,\\xff\\xfe")
    assert record["reason"].startswith("invalid UTF-8")


def _tree(directory) -> dict:
    """Every file under ``directory`` (relative path -> bytes), the manifest's output-dependent fields aside."""
    return {os.path.relpath(os.path.join(folder, name), directory): open(os.path.join(folder, name), "rb").read()
            for folder, _, names in os.walk(directory) for name in names}


def _late_float_csv(path, late_chunk: int, chunk_bytes: int, chunks: int = 50):
    """A CSV whose column ``n`` holds integers, except floats in chunk ``late_chunk`` (which a sample misses),
    and a category ``c`` whose domain the sample cannot all see (value 'rare' once, in the last rows)."""
    lines, size = ["n,c,y\n"], 6
    row = 0
    while size < chunks * chunk_bytes:
        chunk = (size - 6) // chunk_bytes
        value = f"{row % 7}.5" if chunk == late_chunk else str(row % 97)
        line = f"{value},{'abc'[row % 3]},{row % 2}\n"
        lines.append(line)
        size += len(line)
        row += 1
    lines.append("3,rare,1\n")
    path.write_text("".join(lines))


def test_one_pass_writes_what_two_passes_write_and_writes_again_when_the_sample_was_wrong(tmp_path, capfd):
    """Without --schema the job infers the schema from a sample and checks it against the evidence of the whole
    data in the same pass; the outputs are those of two passes (infer, then write) byte for byte, also when the
    sample was wrong (here: it misses a late chunk of floats) and the job has to write again."""
    chunk_bytes = 10_000
    for name, late in (("right", None), ("wrong", 10)):
        data = tmp_path / f"{name}.csv"
        _late_float_csv(data, late if late is not None else -1, chunk_bytes)
        outputs = {}
        for mode in ("sample", "full-pass"):
            options = PreprocessOptions(inputs=[str(data)], output=str(tmp_path / name / mode), label="y",
                                        split="train=0.8,eval=0.2", chunk_bytes=chunk_bytes, infer_schema=mode,
                                        dataset_name=name, report=False)
            capfd.readouterr()
            run_preprocess(options)
            log = capfd.readouterr().err
            assert ("inferring the schema" in log) == (mode == "full-pass")   # the one pass is one Beam job
            assert ("writing again" in log) == (mode == "sample" and late is not None), log
            outputs[mode] = _tree(options.output)
        assert outputs["sample"] == outputs["full-pass"]
        schema = load_schema(str(tmp_path / name / "sample"))
        kinds = {feature.name: feature.type for feature in schema.feature}
        assert kinds["n"] == (3 if late is not None else 2)              # FLOAT where floats came late, else INT
        domain = [d.value for d in schema.string_domain if d.name == "c"]
        assert domain and "rare" in domain[0]                           # the whole data's domain, not the sample's


def test_a_key_column_the_sample_does_not_hold_sends_the_job_to_the_whole_data(tmp_path, capfd, monkeypatch):
    """JSON lines whose key ``k`` first appears after the sample: the job infers from every row (two passes)
    instead of refusing the key as "not in the schema", and writes what the two-pass job writes."""
    import json

    from tfpipe.pipelines import schema_inference

    monkeypatch.setattr(schema_inference, "SAMPLE_BYTES", 2_000)
    data = tmp_path / "rows.jsonl"
    rows = [{"x": i % 7, "y": i % 2} for i in range(1500)] + [{"x": 1, "y": 0, "k": i} for i in range(50)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    outputs = {}
    for mode in ("sample", "full-pass"):
        options = PreprocessOptions(inputs=[str(data)], output=str(tmp_path / mode), label="y", key=["k"],
                                    split="train=0.5,eval=0.5", infer_schema=mode, dataset_name="rows", report=False)
        capfd.readouterr()
        manifest = run_preprocess(options)
        log = capfd.readouterr().err
        assert ("the sample holds no column 'k'" in log) == (mode == "sample")
        assert manifest["rows_read"] == 1550
        outputs[mode] = _tree(options.output)
    assert outputs["sample"] == outputs["full-pass"]
