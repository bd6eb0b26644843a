"""`tfpipe preprocess` writes DIR/report.html: the books, the rejected rows by field and reason, every feature of
every split; the HTML parses and references only files that exist."""
from __future__ import annotations

import os
from html.parser import HTMLParser

from tfpipe.pipelines import artifacts
from tfpipe.pipelines.report import rejected_groups, write_dataset_report


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.anchors, self.ids, self.rows, self.open = [], [], set(), 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "script") and attrs.get("src"):
            self.sources.append(attrs["src"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.anchors.append(attrs["href"][1:])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "tr":
            self.rows += 1
        if tag in ("table", "details", "tbody", "thead"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in ("table", "details", "tbody", "thead"):
            assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"


def test_adult_report(adult_data_dir):
    manifest = artifacts.load_manifest(adult_data_dir)
    assert manifest["report"] == "report.html"
    text = open(os.path.join(adult_data_dir, "report.html"), encoding="utf-8").read()
    parser = _Collect()
    parser.feed(text)
    parser.close()
    assert not parser.open
    assert len(parser.sources) == 15 and all(os.path.isfile(os.path.join(adult_data_dir, s)) for s in parser.sources)
    assert set(parser.anchors) <= parser.ids and len(parser.anchors) == 15
    assert "read = written + rejected: holds" in text
    assert f"{manifest['rows_read']:,}" in text and "32,561 train + 16,281 test" in text
    # Adult's one rejected row (a test line without its fields) is summarised with its reason and raw line
    groups = rejected_groups([os.path.join(adult_data_dir, path) for path in manifest["rejected_files"]])
    assert sum(count for count, _ in groups.values()) == manifest["rows_rejected"] == 1
    (field, reason), (_, examples) = next(iter(groups.items()))
    assert reason and f"<td>{field}</td><td>{reason}</td>" in text and "adult.test row" in text
    for name in ("age", "native-country", "capital-gain"):
        assert f">{name}</a>" in text
    assert "train missing %" in text and "test missing %" in text


def test_report_can_be_remade_and_is_deterministic(adult_small_dir, tmp_path):
    import shutil

    copy = str(tmp_path / "copy")
    shutil.copytree(adult_small_dir, copy)
    first = open(os.path.join(copy, "report.html"), "rb").read()
    pngs = {p: open(os.path.join(copy, "report", p), "rb").read() for p in os.listdir(os.path.join(copy, "report"))}
    assert write_dataset_report(copy) == os.path.join(copy, "report.html")
    assert open(os.path.join(copy, "report.html"), "rb").read() == first
    assert {p: open(os.path.join(copy, "report", p), "rb").read() for p in pngs} == pngs
