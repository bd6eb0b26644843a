"""PreprocessedDataset / write_manifest: the one owner of a dataset directory's manifest."""
import json

import pytest

from tfpipe.pipelines.preprocessed import MANIFEST_FORMAT, PreprocessedDataset, write_manifest


def test_write_manifest_refuses_what_is_not_a_dataset_manifest_and_load_refuses_a_folder_without_one(tmp_path):
    with pytest.raises(ValueError, match="must start with 'tfpipe.dataset/'"):
        write_manifest(str(tmp_path), {"format": "tfpipe.model/1"})
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(FileNotFoundError, match="no manifest.json; not a finished `tfpipe preprocess` output"):
        PreprocessedDataset.load(str(tmp_path))


def test_a_written_manifest_is_what_load_reads(adult_data_dir, tmp_path):
    import shutil

    copy = tmp_path / "adult"
    shutil.copytree(adult_data_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["format"] == MANIFEST_FORMAT
    write_manifest(str(copy), {**manifest, "label": "age"})
    assert (copy / "manifest.json").read_text().endswith("}\n")
    assert PreprocessedDataset.load(str(copy)).label == "age"
