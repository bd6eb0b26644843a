"""The rules a row must follow, read from (and written as) a ``tensorflow_metadata`` ``Schema``.

:class:`FeatureRule` is the flat, picklable view of one schema feature that the Beam workers validate
against; :func:`rules_from_schema` derives it from the proto, so a user-written ``--schema`` file and an
inferred one are enforced the same way.

Example::

    >>> from tensorflow_metadata.proto.v0 import schema_pb2
    >>> schema = schema_pb2.Schema()
    >>> feature = schema.feature.add(name="age", type=schema_pb2.INT)
    >>> feature.presence.min_fraction = 1.0
    >>> rules_from_schema(schema)[0].required
    True
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

KINDS = {schema_pb2.INT: "INT", schema_pb2.FLOAT: "FLOAT", schema_pb2.BYTES: "BYTES"}
PROTO_TYPES = {kind: proto for proto, kind in KINDS.items()}


@dataclasses.dataclass(frozen=True)
class FeatureRule:
    """What a value of one column must satisfy."""

    name: str
    kind: str                                  # "INT" | "FLOAT" | "BYTES"
    required: bool = False                     # a missing value rejects the row
    multivalued: bool = False                  # a list per row (else one value)
    min_values: int = 0                        # per row, for lists
    max_values: Optional[int] = None
    domain: Optional[frozenset] = None         # allowed strings (BYTES)
    minimum: Optional[float] = None            # allowed range (INT/FLOAT)
    maximum: Optional[float] = None
    allow_nan: bool = False
    allow_inf: bool = False


def rules_from_schema(schema: schema_pb2.Schema) -> list[FeatureRule]:
    """One :class:`FeatureRule` per schema feature, in schema order."""
    named_domains = {domain.name: domain for domain in schema.string_domain}
    rules = []
    for feature in schema.feature:
        if feature.type not in KINDS:
            raise ValueError(f"schema feature {feature.name!r}: type {schema_pb2.FeatureType.Name(feature.type)} "
                             f"is not supported (INT, FLOAT or BYTES)")
        shape = [dim.size for dim in feature.shape.dim]
        multivalued = not (shape == [1] or (feature.HasField("value_count") and feature.value_count.max == 1))
        if not feature.HasField("shape") and not feature.HasField("value_count"):
            multivalued = False
        domain = None
        if feature.HasField("string_domain"):
            domain = frozenset(feature.string_domain.value)
        elif feature.HasField("domain"):
            if feature.domain not in named_domains:
                raise ValueError(f"schema feature {feature.name!r}: unknown domain {feature.domain!r}")
            domain = frozenset(named_domains[feature.domain].value)
        numeric = feature.int_domain if feature.HasField("int_domain") else (
            feature.float_domain if feature.HasField("float_domain") else None)
        rules.append(FeatureRule(
            name=feature.name,
            kind=KINDS[feature.type],
            required=feature.presence.min_fraction >= 1.0,
            multivalued=multivalued,
            min_values=feature.value_count.min if multivalued and feature.HasField("value_count") else 0,
            max_values=(feature.value_count.max or None) if multivalued and feature.HasField("value_count") else None,
            domain=domain,
            minimum=numeric.min if numeric is not None and numeric.HasField("min") else None,
            maximum=numeric.max if numeric is not None and numeric.HasField("max") else None,
            allow_nan=feature.HasField("float_domain") and not feature.float_domain.disallow_nan,
            allow_inf=feature.HasField("float_domain") and not feature.float_domain.disallow_inf,
        ))
    return rules


def read_schema(path: str) -> schema_pb2.Schema:
    """Reads a text-format ``Schema`` file (any path :mod:`tfpipe.pipelines.storage` reads)."""
    from tfpipe.pipelines import storage

    return text_format.Parse(storage.read_text(path), schema_pb2.Schema())


def write_schema(schema: schema_pb2.Schema, path: str) -> None:
    """Writes ``schema`` in text format."""
    from tfpipe.pipelines import storage

    storage.write_text(path, text_format.MessageToString(schema))
