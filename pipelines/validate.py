"""``tfpipe validate``: schema anomalies and drift of one split of a preprocessed DIR against a reference.

Why hand-written: TensorFlow Data Validation, which defines these checks, cannot be installed beside TF 2.21 (its
last release pins tensorflow < 2.17). tfpipe already has both inputs — each DIR's ``Schema`` and full-pass
``DatasetFeatureStatisticsList`` — so validation is arithmetic on two protos, and the result is TFDV's own
``tensorflow_metadata`` ``Anomalies`` proto (reasons named by ``AnomalyInfo.Type``, drift figures in
``drift_skew_info``).

Checks, per feature (REF = the reference split and schema, NEW = the split under test):

* ``SCHEMA_NEW_COLUMN`` a feature REF's schema does not have; ``SCHEMA_MISSING_COLUMN`` a feature REF's schema
  requires (presence ``min_fraction`` 1) that NEW lacks or never fills;
* type changes (``UNEXPECTED_DATA_TYPE``, ``STRING_TYPE_NOW_INT`` / ``_FLOAT``);
* ``ENUM_TYPE_UNEXPECTED_STRING_VALUES``: more than ``max_unexpected_fraction`` (0.1%) of NEW's values outside
  REF's string domain (TFDV's ``min_domain_mass``: a value seen once in one half of a data set is not an anomaly);
* ``FLOAT_TYPE_SMALL_FLOAT`` / ``FLOAT_TYPE_BIG_FLOAT`` (``INT_TYPE_*`` for integers): more than 0.1% of NEW's
  values below REF's min or above REF's max (estimated from NEW's quantile histogram);
* ``FEATURE_TYPE_LOW_FRACTION_PRESENT``: NEW's fraction present below REF's by more than ``presence_tolerance``;
* drift: strings — L-infinity distance of the top-value frequencies (``COMPARATOR_L_INFTY_HIGH``); numbers —
  Jensen–Shannon divergence (base 2, in [0, 1]) of the two distributions over REF's quantile bins
  (``COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH``); flagged above ``drift_threshold`` (0.1).

Numbers are compared through the statistics' 100-bucket quantile histograms (each bucket's mass spread linearly
over it, point buckets as point masses), so figures are estimates. Measured (``tests/pipelines/test_validate.py``):
Adult's test split against its train split (a random split of one census) at most 0.021 (age, JSD) and 0.008
(relationship, L-inf); Adult rows with age + 15 years 0.27, with 'Private' renamed 0.74.

Example::

    >>> from tensorflow_metadata.proto.v0 import statistics_pb2
    >>> ref = statistics_pb2.FeatureNameStatistics()
    >>> ref.string_stats.common_stats.num_non_missing = 10
    >>> _ = ref.string_stats.top_values.add(value="a", frequency=10)
    >>> new = statistics_pb2.FeatureNameStatistics()
    >>> new.string_stats.common_stats.num_non_missing = 10
    >>> _ = new.string_stats.top_values.add(value="a", frequency=6), new.string_stats.top_values.add(value="b", frequency=4)
    >>> round(l_infinity(ref, new), 3)
    0.4
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

QUANTILES = 1   # statistics_pb2.Histogram.HistogramType.QUANTILES


@dataclasses.dataclass(frozen=True)
class ValidateOptions:
    """Thresholds of ``tfpipe validate`` (see the module docstring); ``skip``: feature names left out."""

    drift_threshold: float = 0.1
    max_unexpected_fraction: float = 0.001
    presence_tolerance: float = 0.01
    skip: tuple = ()

    def __post_init__(self):
        for name in ("drift_threshold", "max_unexpected_fraction", "presence_tolerance"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        object.__setattr__(self, "skip", tuple(self.skip))


def _name(feature) -> str:
    return ".".join(feature.path.step) or feature.name


def _common(feature):
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind in ("num_stats", "string_stats") else None


def _quantile_buckets(feature):
    for histogram in feature.num_stats.histograms:
        if histogram.type == QUANTILES and histogram.buckets:
            b = histogram.buckets
            return (np.array([x.low_value for x in b]), np.array([x.high_value for x in b]),
                    np.array([x.sample_count for x in b]))
    return None


def _cdf(buckets, x: np.ndarray) -> np.ndarray:
    """P(value <= x) of a quantile histogram: each bucket's mass spread linearly, point buckets as points."""
    low, high, count = buckets
    width = np.where(high > low, high - low, 1.0)
    spread = np.clip((x[:, None] - low[None, :]) / width[None, :], 0.0, 1.0)
    point = (x[:, None] >= low[None, :]).astype(float)
    frac = np.where((high > low)[None, :], spread, point)
    return (frac * count[None, :]).sum(axis=1) / max(count.sum(), 1e-300)


def jensen_shannon(ref, new) -> float | None:
    """JS divergence (base 2) of two numeric features over REF's quantile bin edges; None without histograms."""
    a, b = _quantile_buckets(ref), _quantile_buckets(new)
    if a is None or b is None:
        return None
    edges = np.unique(np.concatenate([a[0], a[1]]))
    p = np.diff(np.concatenate([[0.0], _cdf(a, edges), [1.0]]))
    q = np.diff(np.concatenate([[0.0], _cdf(b, edges), [1.0]]))
    p, q = np.clip(p, 0, None), np.clip(q, 0, None)
    m = (p + q) / 2

    def kl(x):
        keep = x > 0
        return float((x[keep] * np.log2(x[keep] / m[keep])).sum())

    return max(0.0, min(1.0, (kl(p) + kl(q)) / 2))


def _frequencies(feature) -> dict:
    total = max(feature.string_stats.common_stats.num_non_missing, 1)
    return {v.value: v.frequency / total for v in feature.string_stats.top_values}


def l_infinity(ref, new) -> float:
    """L-infinity distance of two string features' top-value frequencies (each over its non-missing count)."""
    a, b = _frequencies(ref), _frequencies(new)
    return max((abs(a.get(v, 0.0) - b.get(v, 0.0)) for v in set(a) | set(b)), default=0.0)


def _presence(feature, examples: int) -> float:
    common = _common(feature)
    return (common.num_non_missing / examples) if common is not None and examples else 0.0


def _schema_kind(schema_feature) -> str:
    from tensorflow_metadata.proto.v0 import schema_pb2

    return schema_pb2.FeatureType.Name(schema_feature.type)           # INT, FLOAT, BYTES


def _stats_kind(feature) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    name = statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)
    return {"STRING": "BYTES", "BYTES": "BYTES"}.get(name, name)


@dataclasses.dataclass
class FeatureReport:
    name: str
    kind: str
    drift: float | None = None          # L-inf (strings) or JS divergence (numbers)
    measure: str = ""
    reasons: list = dataclasses.field(default_factory=list)   # (AnomalyInfo.Type name, short, long)


def compare(ref_schema, ref_stats, new_stats, options: ValidateOptions = ValidateOptions()) -> list[FeatureReport]:
    """Per-feature reports of NEW's statistics against REF's schema and statistics (``DatasetFeatureStatistics``)."""
    ref_features = {_name(f): f for f in ref_stats.features}
    new_features = {_name(f): f for f in new_stats.features}
    domains = {d.name: set(d.value) for d in ref_schema.string_domain}
    reports = []
    for schema_feature in ref_schema.feature:
        name = schema_feature.name
        if name in options.skip:
            continue
        report = FeatureReport(name, _schema_kind(schema_feature))
        reports.append(report)
        new, ref = new_features.get(name), ref_features.get(name)
        required = schema_feature.presence.min_fraction >= 1.0
        if new is None or _common(new) is None or _common(new).num_non_missing == 0:
            if required or new is None:
                report.reasons.append(("SCHEMA_MISSING_COLUMN", "Column dropped",
                                       f"the column is {'absent' if new is None else 'never present'} in NEW"))
            continue
        new_kind = _stats_kind(new)
        if new_kind != report.kind:
            kind = ("STRING_TYPE_NOW_INT" if new_kind == "INT" else "STRING_TYPE_NOW_FLOAT") \
                if report.kind == "BYTES" else "UNEXPECTED_DATA_TYPE"
            report.reasons.append((kind, "Unexpected data type", f"REF has {report.kind}, NEW has {new_kind}"))
            continue
        ref_presence = schema_feature.presence.min_fraction if ref is None else _presence(ref, ref_stats.num_examples)
        new_presence = _presence(new, new_stats.num_examples)
        if new_presence < ref_presence - options.presence_tolerance:
            report.reasons.append(("FEATURE_TYPE_LOW_FRACTION_PRESENT", "Column dropped sometimes",
                                   f"present in {new_presence:.2%} of NEW's examples, {ref_presence:.2%} in REF"))
        if report.kind == "BYTES":
            domain = domains.get(schema_feature.domain) or domains.get(name)
            if domain:
                outside = sum(f for v, f in _frequencies(new).items() if v not in domain)
                if outside > options.max_unexpected_fraction:
                    examples = sorted((v for v in _frequencies(new) if v not in domain))[:5]
                    report.reasons.append(("ENUM_TYPE_UNEXPECTED_STRING_VALUES", "Unexpected string values",
                                           f"{outside:.2%} of NEW's values are outside REF's domain, e.g. "
                                           f"{examples}"))
            if ref is not None:
                report.drift, report.measure = l_infinity(ref, new), "L_INFTY"
                if report.drift > options.drift_threshold:
                    report.reasons.append(("COMPARATOR_L_INFTY_HIGH", "High L-infinity distance",
                                           f"L-infinity distance {report.drift:.4f} > {options.drift_threshold}"))
            continue
        if ref is None:
            continue
        buckets = _quantile_buckets(new)
        prefix = "INT_TYPE" if report.kind == "INT" else "FLOAT_TYPE"
        if buckets is not None:
            lo, hi = ref.num_stats.min, ref.num_stats.max
            below = float(_cdf(buckets, np.array([np.nextafter(lo, -np.inf)]))[0])
            above = 1.0 - float(_cdf(buckets, np.array([hi]))[0])
            for fraction, kind, where in ((below, "SMALL", f"below REF's min {lo:g}"),
                                          (above, "BIG", f"above REF's max {hi:g}")):
                if fraction > options.max_unexpected_fraction:
                    report.reasons.append((f"{prefix}_{kind}_{'INT' if prefix == 'INT_TYPE' else 'FLOAT'}",
                                           "Out-of-range values", f"~{fraction:.2%} of NEW's values {where}"))
        report.drift, report.measure = jensen_shannon(ref, new), "JENSEN_SHANNON_DIVERGENCE"
        if report.drift is not None and report.drift > options.drift_threshold:
            report.reasons.append(("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "High Jensen-Shannon divergence",
                                   f"Jensen-Shannon divergence {report.drift:.4f} > {options.drift_threshold}"))
    known = {f.name for f in ref_schema.feature}
    for name in sorted(set(new_features) - known - set(options.skip)):
        report = FeatureReport(name, _stats_kind(new_features[name]))
        report.reasons.append(("SCHEMA_NEW_COLUMN", "New column", "the column is not in REF's schema"))
        reports.append(report)
    return reports


def to_anomalies(reports, options: ValidateOptions):
    """The reports as TFDV's ``Anomalies`` proto (one ``AnomalyInfo`` per anomalous feature, all drift figures in
    ``drift_skew_info``)."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    out = anomalies_pb2.Anomalies(anomaly_name_format=anomalies_pb2.Anomalies.SERIALIZED_PATH)
    for r in reports:
        if r.reasons:
            info = out.anomaly_info[r.name]
            info.path.step.append(r.name)
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
            info.short_description = r.reasons[0][1] if len(r.reasons) == 1 else "Multiple errors"
            info.description = " ".join(long for _, _, long in r.reasons)
            for kind, short, long in r.reasons:
                info.reason.add(type=anomalies_pb2.AnomalyInfo.Type.Value(kind), short_description=short,
                                description=long)
        if r.drift is not None:
            skew = out.drift_skew_info.add()
            skew.path.step.append(r.name)
            skew.drift_measurements.add(type=anomalies_pb2.DriftSkewInfo.Measurement.Type.Value(r.measure),
                                        value=r.drift, threshold=options.drift_threshold)
    return out


def table(reports) -> str:
    """A fixed-width table: anomalous features first, then by drift."""
    rows = sorted(reports, key=lambda r: (not r.reasons, -(r.drift or 0.0), r.name))
    width = max([len(r.name) for r in rows] + [7])
    lines = [f"{'feature':<{width}}  {'type':<5}  {'drift':>8}  measure  anomalies"]
    for r in rows:
        drift = "" if r.drift is None else f"{r.drift:8.4f}"
        measure = {"L_INFTY": "L-inf", "JENSEN_SHANNON_DIVERGENCE": "JSD"}.get(r.measure, "")
        found = "; ".join(f"{kind}: {long}" for kind, _, long in r.reasons) or "-"
        lines.append(f"{r.name:<{width}}  {r.kind:<5}  {drift:>8}  {measure:<7}  {found}")
    return "\n".join(lines)


def validate(data_dir: str, against: str | None = None, split: str = "train", against_split: str | None = None,
             options: ValidateOptions = ValidateOptions()):
    """Validates ``data_dir``'s ``split`` against ``against``'s (default: the same DIR) ``against_split``
    (default: ``split``) → ``(reports, Anomalies proto)``."""
    from tfpipe.pipelines import artifacts

    against = against or data_dir
    against_split = against_split or split
    if against == data_dir and against_split == split:
        raise ValueError(f"validating split {split!r} of {data_dir} against itself; name --against or "
                         "--against-split")
    reports = compare(artifacts.load_schema(against), artifacts.load_statistics(against, against_split),
                      artifacts.load_statistics(data_dir, split), options)
    return reports, to_anomalies(reports, options)


def anomalies_json(anomalies) -> str:
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(anomalies), indent=2, sort_keys=True)
