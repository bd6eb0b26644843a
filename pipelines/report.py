"""``DIR/report.html``: what `tfpipe preprocess` saw — counts, rejected rows, and every feature per split.

Written from the job's own outputs (``manifest.json``, ``statistics.pbtxt``, ``schema.pbtxt``,
``rejected.jsonl``), so it can be re-made for any DIR (``write_dataset_report(DIR)``). Contents:

* the books: rows read = rows written (per split) + rows rejected, and blank lines skipped;
* rejected rows grouped by field and reason (the reason up to its first ``:``, i.e. without the value), with
  counts and the first three examples of each group (file, row, raw line); ``rejected.jsonl`` is streamed, so
  memory holds only the groups;
* one summary table of all features (sortable by any column: click its header) — type, per split: missing %,
  mean / std / min / max or the top value, unique values — and, per feature, a collapsible section with one
  plot of every split overlaid (numbers: density over the equal-width histogram; strings: frequency of the top
  values), so train/test differences show. PNGs (matplotlib, Agg) in ``DIR/report/``, loaded lazily: readable
  with hundreds of columns.

Example::

    >>> path = write_dataset_report(adult)      # adult: a tfpipe preprocess output directory
    >>> os.path.relpath(path, adult), sorted(os.listdir(os.path.join(adult, "report")))[:2]
    ('report.html', ['feature_0000.png', 'feature_0001.png'])
"""
from __future__ import annotations

import html
import json
import os

import numpy as np

REPORT = "report.html"
PLOTS_DIR = "report"
EXAMPLES_PER_GROUP = 3
TOP_VALUES_PLOTTED = 12
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

_SORT_JS = """
for (const table of document.querySelectorAll('table.sortable')) {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const body = table.tBodies[0], rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
    const key = r => { const t = r.cells[col].dataset.v ?? r.cells[col].textContent; const n = parseFloat(t);
                       return isNaN(n) ? t : n; };
    rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
    th.dataset.asc = asc ? '1' : '0'; rows.forEach(r => body.appendChild(r));
  }));
}
const openTarget = () => { const d = document.getElementById(location.hash.slice(1)); if (d) d.open = true; };
window.addEventListener('hashchange', openTarget); openTarget();
const toggle = document.getElementById('toggle-all');
if (toggle) toggle.addEventListener('click', () => {
  const all = document.querySelectorAll('details'), open = !Array.from(all).every(d => d.open);
  all.forEach(d => d.open = open);
});
"""
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f2f2f2;cursor:pointer;position:sticky;top:0}td.n{text-align:right}
details{border-bottom:1px solid #eee;padding:4px 0}summary{cursor:pointer}code{font-size:12px}
.ok{color:#2a7a2a}.bad{color:#b00020}
"""


def _name(feature) -> str:
    return ".".join(feature.path.step) or feature.name


def _common(feature):
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind in ("num_stats", "string_stats") else None


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    return f"{x:.4g}"


def rejected_groups(paths) -> dict:
    """``{(field, reason kind): [count, [first examples]]}`` of rejected-row JSON-lines files, streamed."""
    from tfpipe.pipelines import storage

    groups = {}
    for path in [paths] if isinstance(paths, str) else paths:
        if not storage.exists(path):
            continue
        with storage.text_reader(path) as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                field = row.get("field")
                key = ("(whole row)" if field in (None, "") else str(field), str(row.get("reason", "")).split(":")[0])
                group = groups.setdefault(key, [0, []])
                group[0] += 1
                if len(group[1]) < EXAMPLES_PER_GROUP:
                    group[1].append(row)
    return groups


def _plot_feature(path: str, name: str, per_split: dict) -> None:
    """One PNG: every split's distribution of ``name`` overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.2), dpi=80)
    first = next(iter(per_split.values()))
    if first.WhichOneof("stats") == "num_stats":
        for i, (split, feature) in enumerate(per_split.items()):
            standard = [h for h in feature.num_stats.histograms if h.type == 0 and h.buckets]
            if not standard:
                continue
            buckets = standard[0].buckets
            low = np.array([b.low_value for b in buckets])
            high = np.array([b.high_value for b in buckets])
            count = np.array([b.sample_count for b in buckets])
            width = np.where(high > low, high - low, 1.0)
            density = count / max(count.sum(), 1e-300) / width
            edges = np.append(low, high[-1])
            ax.stairs(density, edges, label=split, color=COLORS[i % len(COLORS)], linewidth=1.5)
        ax.set_ylabel("density")
    else:
        order = [v.value for v in first.string_stats.top_values[:TOP_VALUES_PLOTTED]]
        n = len(per_split)
        for i, (split, feature) in enumerate(per_split.items()):
            total = max(feature.string_stats.common_stats.num_non_missing, 1)
            freq = {v.value: v.frequency / total for v in feature.string_stats.top_values}
            ax.barh(np.arange(len(order)) + i / (n + 1), [freq.get(v, 0.0) for v in order], height=1 / (n + 1),
                    label=split, color=COLORS[i % len(COLORS)])
        ax.set_yticks(np.arange(len(order)) + (n - 1) / (2 * (n + 1)))
        ax.set_yticklabels([v[:28] for v in order], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("fraction of non-missing values")
        fig.set_size_inches(6.4, max(2.2, 0.22 * len(order) + 0.8))
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=8)
    if first.WhichOneof("stats") == "num_stats":
        fig.subplots_adjust(left=0.12, right=0.98, top=0.86, bottom=0.14)   # fixed: 2x faster than tight_layout
    else:
        fig.tight_layout()                                                  # room for the value labels
    import io

    from tfpipe.pipelines import storage

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    storage.write_bytes(path, buffer.getvalue())


def write_dataset_report(data_dir: str) -> str:
    """Writes ``data_dir/report.html`` and its plots (``data_dir/report/*.png``); returns the HTML path."""
    from tfpipe.pipelines import artifacts, storage
    from tfpipe.pipelines.preprocessed import PreprocessedDataset

    manifest = artifacts.load_manifest(data_dir)
    statistics = artifacts.load_statistics(data_dir)
    schema = artifacts.load_schema(data_dir)
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tfpipe data report: "
             f"{esc(manifest.get('dataset_name', ''))}</title><style>{_CSS}</style></head><body>",
             f"<h1>Data report: {esc(manifest.get('dataset_name', os.path.basename(data_dir)))}</h1>"]
    written = manifest["rows_written"]
    identity = manifest["rows_read"] == sum(written.values()) + manifest["rows_rejected"]
    cells = " + ".join(f"{v:,} {esc(k)}" for k, v in written.items())
    parts.append("<h2>Rows</h2><table><tr><th>read</th><th>written</th><th>rejected</th><th>blank lines skipped"
                 f"</th></tr><tr><td class=n>{manifest['rows_read']:,}</td><td class=n>{cells}</td>"
                 f"<td class=n>{manifest['rows_rejected']:,}</td><td class=n>{manifest.get('blank_lines_skipped', 0):,}"
                 f"</td></tr></table><p class={'ok' if identity else 'bad'}>read = written + rejected: "
                 f"{'holds' if identity else 'DOES NOT HOLD'}</p>")
    groups = rejected_groups(PreprocessedDataset.load(data_dir).rejected_files())
    parts.append(f"<h2>Rejected rows ({manifest['rows_rejected']:,})</h2>")
    if groups:
        parts.append("<table class=sortable><thead><tr><th>field</th><th>reason</th><th>rows</th><th>first examples"
                     "</th></tr></thead><tbody>")
        for (field, reason), (count, examples) in sorted(groups.items(), key=lambda g: -g[1][0]):
            shown = "<br>".join(f"{esc(os.path.basename(str(e.get('source', ''))))} row {e.get('row')}: "
                                f"{esc(str(e.get('reason', '')))} — <code>{esc(str(e.get('raw', ''))[:200])}</code>"
                                for e in examples)
            parts.append(f"<tr><td>{esc(field)}</td><td>{esc(reason)}</td><td class=n>{count:,}</td>"
                         f"<td>{shown}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>none</p>")
    splits = [d.name for d in statistics.datasets]
    by_split = {d.name: ({_name(f): f for f in d.features}, d.num_examples) for d in statistics.datasets}
    types = {f.name: {0: "TYPE_UNKNOWN", 1: "BYTES", 2: "INT", 3: "FLOAT", 4: "STRUCT"}.get(f.type, str(f.type))
             for f in schema.feature}
    names = sorted(set(types) | {n for features, _ in by_split.values() for n in features})
    head = "".join(f"<th>{esc(s)} missing %</th><th>{esc(s)} mean / top value</th><th>{esc(s)} std</th>"
                   f"<th>{esc(s)} min</th><th>{esc(s)} max</th><th>{esc(s)} unique</th>" for s in splits)
    parts.append(f"<h2>Features ({len(names)})</h2><p>Click a column header to sort. Plots of every feature "
                 "(splits overlaid) below the table.</p><table class=sortable><thead><tr><th>feature</th>"
                 f"<th>type</th>{head}</tr></thead><tbody>")
    sections = []
    for index, name in enumerate(names):
        row = [f"<td><a href='#f{index}'>{esc(name)}</a></td><td>{esc(types.get(name, 'not in schema'))}</td>"]
        present = {}
        for split in splits:
            features, examples = by_split[split]
            feature = features.get(name)
            common = None if feature is None else _common(feature)
            if common is None:
                row.append("<td></td>" * 6)
                continue
            present[split] = feature
            missing = 100.0 * (1 - common.num_non_missing / examples) if examples else 0.0
            if feature.WhichOneof("stats") == "num_stats":
                s = feature.num_stats
                unique = [c.num for c in feature.custom_stats if c.name == "unique"]
                row.append(f"<td class=n>{missing:.2f}</td><td class=n>{_fmt(s.mean)}</td><td class=n>"
                           f"{_fmt(s.std_dev)}</td><td class=n>{_fmt(s.min)}</td><td class=n>{_fmt(s.max)}</td>"
                           f"<td class=n>{_fmt(unique[0]) if unique else ''}</td>")
            else:
                s = feature.string_stats
                top = s.top_values[0] if s.top_values else None
                label = "" if top is None else (f"{top.value[:40]} "
                                                f"({100.0 * top.frequency / max(common.num_non_missing, 1):.1f}%)")
                row.append(f"<td class=n>{missing:.2f}</td><td data-v='{esc(label)}'>{esc(label)}</td><td></td>"
                           f"<td></td><td></td><td class=n>{s.unique:,}</td>")
        parts.append("<tr>" + "".join(row) + "</tr>")
        plot = ""
        if present:
            png = f"{PLOTS_DIR}/feature_{index:04d}.png"
            _plot_feature(storage.join(data_dir, *png.split("/")), name, present)
            plot = f"<img loading=lazy src='{png}' alt='{esc(name)} per split'>"
        sections.append(f"<details id='f{index}'><summary>{esc(name)} — {esc(types.get(name, 'not in schema'))}"
                        f"</summary>{plot}</details>")
    parts.append("</tbody></table><h2>Per feature</h2><p><button id=toggle-all>open / close all</button> "
                 "(a feature's name in the table opens its plot)</p>")
    parts.extend(sections)
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    path = storage.join(data_dir, REPORT)
    storage.write_text(path, "\n".join(parts))
    return path
