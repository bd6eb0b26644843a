"""Row checks of the preprocess job (drift between datasets is :mod:`tfpipe.pipelines.validate`'s): a batch of
raw columns checked against the schema rules and converted to typed columns, vectorized.

Every column is checked as a whole with Arrow kernels; a row's *problem* is the first failing column (in
schema order) and its code. Only rejected rows are ever looked at one by one, to write their reason. Text columns
whose values repeat are checked once per distinct value (``dictionary_encode``, then one ``take``): measured on a
16 MB Adult chunk (137k rows, 15 columns), 0.15 s → 0.07 s.

Example::

    >>> import pyarrow as pa
    >>> from tfpipe.pipelines.schema import FeatureRule
    >>> result = validate_batch({"age": pa.array(["39", "x"])}, [FeatureRule("age", "INT", required=True)],
    ...                         ValidationOptions())
    >>> result.rejected.tolist(), result.reason(1)
    ([False, True], ('age', "not an integer: 'x'"))
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tfpipe.pipelines.schema import FeatureRule

DEFAULT_NULL_VALUES = ("", "?", "NA", "N/A", "NULL", "null", "None")
DEFAULT_MAX_FIELD_BYTES = 1 << 20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT_PATTERN = r"^[+-]?[0-9]+$"
_DICTIONARY_MIN_ROWS = 1024   # below this, converting distinct values apart does not pay
_FLOAT_PATTERN = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))$"

# Problem codes (0 = fine); the text is what the rejected output says.
PROBLEMS = {
    1: "missing required value",
    2: "invalid UTF-8",
    3: "field over the size limit",
    4: "not a number",
    5: "not an integer",
    6: "NaN is not allowed",
    7: "infinity is not allowed",
    8: "out of float32 range",
    9: "not in the schema's domain",
    10: "below the schema's minimum",
    11: "above the schema's maximum",
    12: "too few values",
    13: "too many values",
    14: "a list where one value is expected",
    15: "out of int64 range",
    16: "nested values are not supported",
    17: "field not in the schema",
}


@dataclasses.dataclass(frozen=True)
class ValidationOptions:
    """How raw text becomes values (null markers, trimming, renames) and the size limit of a field."""

    null_values: tuple = DEFAULT_NULL_VALUES
    strip: bool = True
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
    value_maps: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ValidationResult:
    """Typed columns of a batch plus, per row, the first problem found (column index and code)."""

    columns: dict
    raw: Mapping[str, pa.Array]
    rules: Sequence[FeatureRule]
    problem_column: np.ndarray
    problem_code: np.ndarray

    @property
    def rejected(self) -> np.ndarray:
        return self.problem_code > 0

    def reason(self, row: int) -> tuple[str, str]:
        """(field, human-readable reason) of a rejected row."""
        column = int(self.problem_column[row])
        code = int(self.problem_code[row])
        name = self.rules[column].name if column < len(self.rules) else self._extra_name(column)
        value = self.raw[name][row].as_py() if name in self.raw else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="backslashreplace")
        text = PROBLEMS[code]
        if value is not None and code not in (1,):
            shown = value if not isinstance(value, (bytes, str)) or len(value) <= 80 else value[:80] + "..."
            text = f"{text}: {shown!r}"
        if code == 3:
            text = f"{PROBLEMS[code]} ({_length(value)} bytes)"
        return name, text

    def _extra_name(self, column: int) -> str:
        extra = [name for name in self.raw if name not in {rule.name for rule in self.rules}]
        return extra[column - len(self.rules)]


def _length(value) -> int:
    return len(value.encode("utf-8") if isinstance(value, str) else value) if value is not None else 0


def to_utf8(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Binary → string; invalid UTF-8 values become null and are flagged."""
    try:
        return array.cast(pa.string()), np.zeros(len(array), bool)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        values = array.to_pylist()
        bad = np.zeros(len(values), bool)
        for index, value in enumerate(values):  # rare path: only for a batch holding bad bytes
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad[index] = True
        cleaned = pc.if_else(pa.array(bad), pa.scalar(None, array.type), array)
        return cleaned.cast(pa.string()), bad


def _text_to_number(text: pa.Array, rule: FeatureRule, codes: np.ndarray) -> pa.Array:
    """Parses strings as INT/FLOAT; flags what does not parse. ``text`` has nulls for missing values."""
    present = ~text.is_null().to_numpy(zero_copy_only=False)
    if rule.kind == "INT":
        ok = pc.fill_null(pc.match_substring_regex(text, _INT_PATTERN), True).to_numpy(zero_copy_only=False)
        long_digits = pc.fill_null(pc.greater(pc.utf8_length(text), 18), False).to_numpy(zero_copy_only=False)
        for index in np.flatnonzero(ok & long_digits & present):  # rare: may overflow int64
            if not -(2 ** 63) <= int(text[int(index)].as_py()) < 2 ** 63:
                ok[index] = False
                codes[index] = codes[index] or 15
        _flag(codes, present & ~ok, 5)
        return _null_where(text, ~ok).cast(pa.int64())
    ok = pc.fill_null(pc.match_substring_regex(text, _FLOAT_PATTERN), True).to_numpy(zero_copy_only=False)
    _flag(codes, present & ~ok, 4)
    return _null_where(text, ~ok).cast(pa.float64())


def _null_where(array: pa.Array, mask: np.ndarray) -> pa.Array:
    """``array`` with nulls where ``mask`` holds (no copy when it holds nowhere)."""
    if not mask.any():
        return array
    return pc.if_else(pa.array(mask), pa.scalar(None, array.type), array)


def _flag(codes: np.ndarray, mask: np.ndarray, code: int) -> None:
    """Records ``code`` where ``mask`` holds and no earlier problem was found for that value."""
    codes[(codes == 0) & mask] = code


def _coerce_values(array: pa.Array, rule: FeatureRule, options: ValidationOptions) -> tuple[pa.Array, np.ndarray]:
    """Converts flat (non-list) values to the rule's type; returns (typed values with nulls, problem codes).

    Text is converted once per distinct value when values repeat (every check is a function of the value alone),
    then spread back to the rows with one ``take``.
    """
    if len(array) >= _DICTIONARY_MIN_ROWS and is_text_type(array.type):
        encoded = pc.dictionary_encode(array)
        if len(encoded.dictionary) * 2 <= len(array):
            values, codes = _coerce_distinct(encoded.dictionary, rule, options)
            indices = encoded.indices
            row_codes = codes[indices.fill_null(0).to_numpy(zero_copy_only=False)] if len(codes) else \
                np.zeros(len(array), np.int8)
            if indices.null_count:   # a missing value (JSON null) stays missing, with no problem of its own
                row_codes[indices.is_null().to_numpy(zero_copy_only=False)] = 0
            return values.take(indices), row_codes
    return _coerce_distinct(array, rule, options)


def is_text_type(arrow_type: pa.DataType) -> bool:
    """String or binary (large or not): the columns whose values are checked as text."""
    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_binary(arrow_type)
            or pa.types.is_large_binary(arrow_type))


def _coerce_distinct(array: pa.Array, rule: FeatureRule, options: ValidationOptions) -> tuple[pa.Array, np.ndarray]:
    """:func:`_coerce_values` value by value."""
    n = len(array)
    codes = np.zeros(n, np.int8)
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        array, bad = to_utf8(array)
        _flag(codes, bad, 2)
    if pa.types.is_null(array.type):
        array = pa.nulls(n, pa.string() if rule.kind == "BYTES" else pa.float64())
    if pa.types.is_struct(array.type) or pa.types.is_map(array.type) or pa.types.is_list(array.type):
        _flag(codes, ~array.is_null().to_numpy(zero_copy_only=False), 16)
        array = pa.nulls(n, pa.string())
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        if options.strip:
            array = pc.utf8_trim_whitespace(array)
        value_map = options.value_maps.get(rule.name)
        if value_map:
            for old, new in value_map.items():
                array = pc.if_else(pc.equal(array, old), pa.scalar(new, pa.string()), array)
        if options.null_values:
            is_null_marker = pc.is_in(array, pa.array(list(options.null_values), pa.string()))
            array = _null_where(array, is_null_marker.to_numpy(zero_copy_only=False))
        too_long = pc.fill_null(pc.greater(pc.binary_length(array), options.max_field_bytes), False)
        _flag(codes, too_long.to_numpy(zero_copy_only=False), 3)
        if rule.kind == "BYTES":
            values = array
        else:
            values = _text_to_number(array, rule, codes)
    elif pa.types.is_boolean(array.type):
        values = array.cast(pa.int64()) if rule.kind != "BYTES" else pc.if_else(array, "true", "false")
    elif rule.kind == "BYTES":
        values = array.cast(pa.string())
    elif rule.kind == "INT" and (pa.types.is_floating(array.type)):
        as_float = array.cast(pa.float64())
        integral = pc.fill_null(pc.equal(pc.floor(as_float), as_float), True).to_numpy(zero_copy_only=False)
        _flag(codes, ~integral, 5)
        values = pc.if_else(pa.array(integral), as_float, pa.scalar(None, pa.float64())).cast(pa.int64())
    elif pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
        values = array.cast(pa.int64() if rule.kind == "INT" else pa.float64())
    else:
        _flag(codes, ~array.is_null().to_numpy(zero_copy_only=False), 16)
        values = pa.nulls(n, pa.string() if rule.kind == "BYTES" else pa.float64())
    values = _check_range(values, rule, codes)
    return _null_where(values, codes > 0), codes


def _check_range(values: pa.Array, rule: FeatureRule, codes: np.ndarray) -> pa.Array:
    """Domain, NaN/inf and min/max checks; FLOAT values come back as float32."""
    if rule.kind == "BYTES":
        if rule.domain is not None:
            inside = pc.or_(pc.is_null(values), pc.is_in(values, pa.array(sorted(rule.domain), pa.string())))
            _flag(codes, ~inside.to_numpy(zero_copy_only=False), 9)
        return values
    numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls become NaN here
    present = ~values.is_null().to_numpy(zero_copy_only=False)
    if rule.kind == "FLOAT":
        nan = present & np.isnan(numbers)
        inf = present & np.isinf(numbers)
        if not rule.allow_nan:
            _flag(codes, nan, 6)
        if not rule.allow_inf:
            _flag(codes, inf, 7)
        _flag(codes, present & np.isfinite(numbers) & (np.abs(numbers) > _FLOAT32_MAX), 8)
    with np.errstate(invalid="ignore"):
        if rule.minimum is not None:
            _flag(codes, present & (numbers < rule.minimum), 10)
        if rule.maximum is not None:
            _flag(codes, present & (numbers > rule.maximum), 11)
    return values.cast(pa.float32()) if rule.kind == "FLOAT" else values


def _coerce_column(array: pa.Array, rule: FeatureRule, options: ValidationOptions) -> tuple[pa.Array, np.ndarray]:
    """(typed column, problem code per row) of one column, lists included."""
    n = len(array)
    is_list = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    if not is_list:
        values, codes = _coerce_values(array, rule, options)
        missing = values.is_null().to_numpy(zero_copy_only=False) & (codes == 0)
        if rule.multivalued:
            offsets = np.arange(n + 1, dtype=np.int32)
            values = pa.ListArray.from_arrays(pa.array(offsets), values.fill_null(_zero(values.type)),
                                              mask=pa.array(missing))
        codes = codes.copy()
        if rule.required:
            _flag(codes, missing, 1)
        if rule.multivalued and rule.min_values > 1:
            _flag(codes, ~missing, 12)
        return values, codes
    codes = np.zeros(n, np.int8)
    missing = array.is_null().to_numpy(zero_copy_only=False)
    if rule.required:
        _flag(codes, missing, 1)
    filled = pc.if_else(pc.is_null(array), pa.scalar([], array.type), array) if array.null_count else array
    filled = pa.concat_arrays([filled]) if filled.offset else filled
    offsets = filled.offsets.to_numpy().astype(np.int64)
    flat = filled.values.slice(offsets[0], offsets[-1] - offsets[0])
    offsets -= offsets[0]
    lengths = np.diff(offsets)
    flat_values, flat_codes = _coerce_values(flat, rule, options)
    row_of_value = np.repeat(np.arange(n), lengths)
    worst = np.zeros(n, np.int8)
    bad_values = flat_codes > 0
    np.maximum.at(worst, row_of_value[bad_values], flat_codes[bad_values])
    _flag(codes, worst > 0, 0)
    codes = np.where(codes == 0, worst, codes).astype(np.int8)
    flat_missing = flat_values.is_null().to_numpy(zero_copy_only=False) & ~bad_values
    _flag(codes, np.bincount(row_of_value[flat_missing], minlength=n) > 0, 1)  # a null inside a list
    if not rule.multivalued:
        _flag(codes, ~missing & (lengths > 1), 14)
        values = pc.if_else(pa.array(~missing & (lengths == 1)),
                            flat_values.take(pa.array(np.minimum(offsets[:-1], max(len(flat_values) - 1, 0)))),
                            pa.scalar(None, flat_values.type)) if len(flat_values) else pa.nulls(n, flat_values.type)
        if rule.required:
            _flag(codes, ~missing & (lengths == 0), 1)
        return values, codes
    _flag(codes, ~missing & (lengths < rule.min_values), 12)
    if rule.max_values is not None:
        _flag(codes, ~missing & (lengths > rule.max_values), 13)
    values = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat_values.fill_null(_zero(flat_values.type)),
                                      mask=pa.array(missing))
    return values, codes


def _zero(arrow_type: pa.DataType):
    return pa.scalar("" if pa.types.is_string(arrow_type) else 0, arrow_type)


def validate_batch(raw: Mapping[str, pa.Array], rules: Sequence[FeatureRule], options: ValidationOptions,
                   allow_extra_columns: bool = False) -> ValidationResult:
    """Validates and converts a batch given as raw columns (missing columns count as all-missing).

    Columns of ``raw`` that no rule names reject the rows where they hold a value, unless
    ``allow_extra_columns``.
    """
    n = len(next(iter(raw.values()))) if raw else 0
    problem_column = np.full(n, -1, np.int32)
    problem_code = np.zeros(n, np.int8)
    columns = {}
    for index, rule in enumerate(rules):
        array = raw.get(rule.name)
        if array is None:
            array = pa.nulls(n, pa.string())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        values, codes = _coerce_column(array, rule, options)
        columns[rule.name] = values
        first = (problem_code == 0) & (codes > 0)
        problem_column[first] = index
        problem_code[first] = codes[first]
    if not allow_extra_columns:
        extra = [name for name in raw if name not in columns]
        for offset, name in enumerate(extra):
            present = ~raw[name].is_null().to_numpy(zero_copy_only=False)
            first = (problem_code == 0) & present
            problem_column[first] = len(rules) + offset
            problem_code[first] = 17
    return ValidationResult(columns, raw, list(rules), problem_column, problem_code)


def take_rows(columns: Mapping[str, pa.Array], rows: Optional[np.ndarray]) -> dict:
    """The given rows of every column (all rows if ``rows`` is None)."""
    if rows is None:
        return dict(columns)
    indices = pa.array(rows, pa.int64())
    return {name: array.take(indices) for name, array in columns.items()}
