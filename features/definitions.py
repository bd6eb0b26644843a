"""Immutable, validated feature definitions with the familiar ``tf.feature_column`` names and meanings.

A definition only describes a feature; :func:`tfpipe.features.fit` fills what the statistics know (vocabularies,
boundaries, mean/std, dtypes) and :func:`tfpipe.features.compile_features` turns the fitted set into Keras 3
preprocessing layers.

Example::

    >>> age = numeric_column("age", normalizer="zscore")
    >>> bucketized_column(age, num_buckets=10).name
    'age_bucketized'
    >>> crossed_column(["education", "occupation"], hash_bucket_size=1000).name
    'education_X_occupation'
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence, Union

NORMALIZERS = ("none", "zscore", "minmax", "log")
COMBINERS = ("mean", "sum", "sqrtn")
DTYPES = ("string", "int64", "float32")
CATEGORICAL_DTYPES = ("string", "int64")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_key(key) -> None:
    _check(isinstance(key, str) and key != "", f"feature key must be a non-empty string, got {key!r}")


def _check_dtype(dtype, allowed=DTYPES) -> None:
    _check(dtype is None or dtype in allowed, f"dtype must be one of {allowed} or None, got {dtype!r}")


def _optional_float(value, what: str):
    if value is None:
        return None
    value = float(value)
    _check(math.isfinite(value), f"{what} must be finite, got {value}")
    return value


def _vocabulary_tuple(vocabulary, dtype):
    if vocabulary is None:
        return None
    values = tuple(vocabulary)
    _check(len(values) > 0, "vocabulary must not be empty")
    if all(isinstance(v, str) for v in values):
        _check(dtype in (None, "string"), f"string vocabulary for a {dtype} column")
        _check(all(v != "" for v in values), "the empty string means 'missing' and cannot be in a vocabulary")
    else:
        _check(all(isinstance(v, int) and not isinstance(v, bool) for v in values),
               "vocabulary must be all strings or all ints")
        _check(dtype in (None, "int64"), f"int vocabulary for a {dtype} column")
        _check(all(v != -2**63 for v in values), "-2**63 means 'missing' and cannot be in a vocabulary")
    _check(len(set(values)) == len(values), "vocabulary entries must be unique")
    return values


def _increasing(values, minimum: int, what: str) -> tuple[float, ...]:
    """``values`` as a tuple of finite, strictly increasing floats, at least ``minimum`` of them."""
    bounds = tuple(float(b) for b in values)
    _check(len(bounds) >= minimum, f"{what} need at least {minimum} value(s)")
    _check(all(math.isfinite(b) for b in bounds), f"{what} must be finite")
    _check(all(a < b for a, b in zip(bounds, bounds[1:])), f"{what} must be strictly increasing")
    return bounds


class _OfNumber:
    """Definitions derived from one numeric column (``source``): its key is theirs."""

    @property
    def key(self) -> str:
        return self.source.key

    @property
    def raw_keys(self) -> tuple[str, ...]:
        return (self.source.key,)


@dataclasses.dataclass(frozen=True)
class NumericColumn:
    """A single number per example, optionally normalized (see :func:`numeric_column`)."""

    key: str
    normalizer: str = "none"
    default_value: float | None = None
    missing_indicator: bool = False
    dtype: str | None = None  # "float32" or "int64" (the tf.Example list type), filled by fit
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self):
        _check_key(self.key)
        _check(self.normalizer in NORMALIZERS, f"normalizer must be one of {NORMALIZERS}, got {self.normalizer!r}")
        _check_dtype(self.dtype, ("float32", "int64"))
        _check(isinstance(self.missing_indicator, bool), "missing_indicator must be a bool")
        for field in ("default_value", "mean", "std", "min", "max"):
            object.__setattr__(self, field, _optional_float(getattr(self, field), f"{self.key}: {field}"))
        _check(self.std is None or self.std >= 0, f"{self.key}: std must be >= 0")
        _check(self.min is None or self.max is None or self.min <= self.max, f"{self.key}: min > max")

    @property
    def name(self) -> str:
        return self.key

    @property
    def raw_keys(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def is_fitted(self) -> bool:
        needs = {"none": (), "zscore": ("mean", "std"), "log": ("mean", "std"), "minmax": ("min", "max")}
        return (self.dtype is not None and self.default_value is not None
                and all(getattr(self, f) is not None for f in needs[self.normalizer]))


@dataclasses.dataclass(frozen=True)
class BucketizedColumn(_OfNumber):
    """Bucket ids of a numeric column (see :func:`bucketized_column`)."""

    source: NumericColumn
    boundaries: tuple[float, ...] | None = None
    num_buckets: int | None = None

    def __post_init__(self):
        _check(isinstance(self.source, NumericColumn), "bucketized_column needs a numeric_column source")
        if self.boundaries is not None:
            object.__setattr__(self, "boundaries", _increasing(self.boundaries, 1, "boundaries"))
        _check(self.boundaries is not None or self.num_buckets is not None,
               "bucketized_column needs boundaries or num_buckets")
        _check(self.num_buckets is None or (isinstance(self.num_buckets, int) and self.num_buckets >= 2),
               "num_buckets must be an int >= 2")

    @property
    def name(self) -> str:
        return f"{self.source.key}_bucketized"

    @property
    def multivalent(self) -> bool:
        return False

    @property
    def is_fitted(self) -> bool:
        return self.boundaries is not None and self.source.is_fitted

    @property
    def num_ids(self) -> int:
        return len(self.boundaries) + 1


@dataclasses.dataclass(frozen=True)
class PiecewiseLinearColumn(_OfNumber):
    """Piecewise-linear encoding of a numeric column over bins (see :func:`piecewise_linear_column`)."""

    source: NumericColumn
    boundaries: tuple[float, ...] | None = None   # bin edges b_0 < b_1 < ... < b_T: T bins, T outputs
    num_bins: int | None = None

    def __post_init__(self):
        _check(isinstance(self.source, NumericColumn), "piecewise_linear_column needs a numeric_column source")
        if self.boundaries is not None:
            object.__setattr__(self, "boundaries", _increasing(self.boundaries, 2, f"{self.source.key}: bin edges"))
        _check(self.boundaries is not None or self.num_bins is not None,
               "piecewise_linear_column needs boundaries or num_bins")
        _check(self.num_bins is None or (isinstance(self.num_bins, int) and self.num_bins >= 1),
               "num_bins must be an int >= 1")

    @property
    def name(self) -> str:
        return f"{self.source.key}_piecewise_linear"

    @property
    def is_fitted(self) -> bool:
        return self.boundaries is not None and self.source.is_fitted

    @property
    def width(self) -> int:
        """Output columns (= bins) of the fitted column."""
        return len(self.boundaries) - 1


@dataclasses.dataclass(frozen=True)
class PeriodicColumn(_OfNumber):
    """A learned periodic embedding of a numeric column (see :func:`periodic_column`)."""

    source: NumericColumn
    n_frequencies: int = 16
    sigma: float = 0.1
    dimension: int = 8

    def __post_init__(self):
        _check(isinstance(self.source, NumericColumn), "periodic_column needs a numeric_column source")
        for field in ("n_frequencies", "dimension"):
            value = getattr(self, field)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                   f"{self.source.key}: {field} must be an int >= 1, got {value!r}")
        object.__setattr__(self, "sigma", float(self.sigma))
        _check(math.isfinite(self.sigma) and self.sigma > 0, f"{self.source.key}: sigma must be > 0")

    @property
    def name(self) -> str:
        return f"{self.source.key}_periodic"

    @property
    def is_fitted(self) -> bool:
        return self.source.is_fitted


@dataclasses.dataclass(frozen=True)
class VocabularyListColumn:
    """Ids from an in-memory vocabulary (see :func:`categorical_column_with_vocabulary_list`)."""

    key: str
    vocabulary: tuple | None = None
    num_oov_buckets: int = 1
    top_k: int | None = None
    min_count: int = 1
    dtype: str | None = None
    multivalent: bool | None = None

    def __post_init__(self):
        _check_key(self.key)
        _check_dtype(self.dtype, CATEGORICAL_DTYPES)
        object.__setattr__(self, "vocabulary", _vocabulary_tuple(self.vocabulary, self.dtype))
        _check(isinstance(self.num_oov_buckets, int) and self.num_oov_buckets >= 0, "num_oov_buckets must be >= 0")
        _check(self.top_k is None or (isinstance(self.top_k, int) and self.top_k >= 1), "top_k must be >= 1")
        _check(isinstance(self.min_count, int) and self.min_count >= 0, "min_count must be >= 0")

    @property
    def name(self) -> str:
        return self.key

    @property
    def raw_keys(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def is_fitted(self) -> bool:
        return self.vocabulary is not None and self.dtype is not None and self.multivalent is not None

    @property
    def num_ids(self) -> int:
        return len(self.vocabulary) + self.num_oov_buckets


@dataclasses.dataclass(frozen=True)
class VocabularyFileColumn:
    """Ids from a vocabulary file, one token per line (see :func:`categorical_column_with_vocabulary_file`)."""

    key: str
    vocabulary_file: str
    vocabulary_size: int | None = None
    num_oov_buckets: int = 1
    dtype: str | None = None
    multivalent: bool | None = None
    vocabulary: tuple | None = None  # the file's tokens, filled by fit

    def __post_init__(self):
        _check_key(self.key)
        _check(isinstance(self.vocabulary_file, str) and self.vocabulary_file != "", "vocabulary_file is required")
        _check_dtype(self.dtype, CATEGORICAL_DTYPES)
        object.__setattr__(self, "vocabulary", _vocabulary_tuple(self.vocabulary, self.dtype))
        _check(self.vocabulary_size is None or self.vocabulary_size >= 1, "vocabulary_size must be >= 1")
        _check(isinstance(self.num_oov_buckets, int) and self.num_oov_buckets >= 0, "num_oov_buckets must be >= 0")

    name = VocabularyListColumn.name
    raw_keys = VocabularyListColumn.raw_keys
    is_fitted = VocabularyListColumn.is_fitted
    num_ids = VocabularyListColumn.num_ids


@dataclasses.dataclass(frozen=True)
class IdentityColumn:
    """Integer features used as ids directly (see :func:`categorical_column_with_identity`)."""

    key: str
    num_buckets: int
    default_value: int | None = None
    multivalent: bool | None = None

    def __post_init__(self):
        _check_key(self.key)
        _check(isinstance(self.num_buckets, int) and self.num_buckets >= 1, "num_buckets must be an int >= 1")
        _check(self.default_value is None or 0 <= self.default_value < self.num_buckets,
               "default_value must be in [0, num_buckets)")

    @property
    def dtype(self) -> str:
        return "int64"

    name = VocabularyListColumn.name
    raw_keys = VocabularyListColumn.raw_keys

    @property
    def is_fitted(self) -> bool:
        return self.multivalent is not None

    @property
    def num_ids(self) -> int:
        return self.num_buckets


@dataclasses.dataclass(frozen=True)
class HashBucketColumn:
    """Hashed ids of string or integer features (see :func:`categorical_column_with_hash_bucket`)."""

    key: str
    hash_bucket_size: int
    dtype: str | None = None
    multivalent: bool | None = None

    def __post_init__(self):
        _check_key(self.key)
        _check(isinstance(self.hash_bucket_size, int) and self.hash_bucket_size >= 1, "hash_bucket_size must be >= 1")
        _check_dtype(self.dtype, CATEGORICAL_DTYPES)

    name = VocabularyListColumn.name
    raw_keys = VocabularyListColumn.raw_keys

    @property
    def is_fitted(self) -> bool:
        return self.dtype is not None and self.multivalent is not None

    @property
    def num_ids(self) -> int:
        return self.hash_bucket_size


@dataclasses.dataclass(frozen=True)
class CrossedColumn:
    """Hashed cross of raw features and/or categorical columns (see :func:`crossed_column`)."""

    keys: tuple
    hash_bucket_size: int
    key_dtypes: tuple | None = None  # dtype of each raw (str) key, None for column keys; filled by fit

    def __post_init__(self):
        keys = tuple(self.keys)
        _check(len(keys) >= 2, "crossed_column needs at least two keys")
        for key in keys:
            if isinstance(key, str):
                _check_key(key)
            else:
                _check(isinstance(key, CATEGORICAL_TYPES) and not isinstance(key, CrossedColumn),
                       f"crossed_column keys must be feature names or categorical columns, got {key!r}")
        object.__setattr__(self, "keys", keys)
        _check(isinstance(self.hash_bucket_size, int) and self.hash_bucket_size >= 1, "hash_bucket_size must be >= 1")
        if self.key_dtypes is not None:
            dtypes = tuple(self.key_dtypes)
            _check(len(dtypes) == len(keys), "key_dtypes must have one entry per key")
            for key, dtype in zip(keys, dtypes):
                if isinstance(key, str):
                    _check_dtype(dtype, CATEGORICAL_DTYPES)
                else:
                    _check(dtype is None, "key_dtypes of column keys must be None")
            object.__setattr__(self, "key_dtypes", None if all(d is None for d in dtypes) else dtypes)

    @property
    def name(self) -> str:
        return "_X_".join(k if isinstance(k, str) else k.name for k in self.keys)

    @property
    def raw_keys(self) -> tuple[str, ...]:
        out: list[str] = []
        for key in self.keys:
            out.extend([key] if isinstance(key, str) else key.raw_keys)
        return tuple(dict.fromkeys(out))

    @property
    def multivalent(self) -> bool:
        return False

    @property
    def is_fitted(self) -> bool:
        dtypes = self.key_dtypes or (None,) * len(self.keys)
        return all(d is not None if isinstance(k, str) else k.is_fitted for k, d in zip(self.keys, dtypes))

    @property
    def num_ids(self) -> int:
        return self.hash_bucket_size


CATEGORICAL_TYPES = (VocabularyListColumn, VocabularyFileColumn, IdentityColumn, HashBucketColumn,
                     BucketizedColumn, CrossedColumn)
CategoricalColumn = Union[VocabularyListColumn, VocabularyFileColumn, IdentityColumn, HashBucketColumn,
                          BucketizedColumn, CrossedColumn]


@dataclasses.dataclass(frozen=True)
class EmbeddingColumn:
    """A trainable embedding of a categorical column (see :func:`embedding_column`)."""

    categorical: CategoricalColumn
    dimension: int
    combiner: str = "mean"

    def __post_init__(self):
        _check(isinstance(self.categorical, CATEGORICAL_TYPES), "embedding_column needs a categorical column")
        _check(isinstance(self.dimension, int) and self.dimension >= 1, "dimension must be an int >= 1")
        _check(self.combiner in COMBINERS, f"combiner must be one of {COMBINERS}, got {self.combiner!r}")

    @property
    def name(self) -> str:
        return f"{self.categorical.name}_embedding"

    @property
    def raw_keys(self) -> tuple[str, ...]:
        return self.categorical.raw_keys

    @property
    def is_fitted(self) -> bool:
        return self.categorical.is_fitted


@dataclasses.dataclass(frozen=True)
class IndicatorColumn:
    """Multi-hot encoding of a categorical column (see :func:`indicator_column`)."""

    categorical: CategoricalColumn

    def __post_init__(self):
        _check(isinstance(self.categorical, CATEGORICAL_TYPES), "indicator_column needs a categorical column")

    @property
    def name(self) -> str:
        return f"{self.categorical.name}_indicator"

    @property
    def raw_keys(self) -> tuple[str, ...]:
        return self.categorical.raw_keys

    @property
    def is_fitted(self) -> bool:
        return self.categorical.is_fitted


Definition = Union[NumericColumn, PiecewiseLinearColumn, PeriodicColumn, CategoricalColumn, EmbeddingColumn,
                   IndicatorColumn]
DEFINITION_TYPES = (NumericColumn, PiecewiseLinearColumn, PeriodicColumn, EmbeddingColumn, IndicatorColumn) + CATEGORICAL_TYPES


# ---------------------------------------------------------------------------------------------------------------
# Constructors with the tf.feature_column names.


def numeric_column(key: str, normalizer: str = "none", default_value: float | None = None,
                   missing_indicator: bool = False) -> NumericColumn:
    """A numeric feature with an optional normalizer fitted from the statistics.

    ``normalizer``: ``"none"``, ``"zscore"`` ((x - mean) / std), ``"minmax"`` ((x - min) / (max - min)) or
    ``"log"`` (log1p(max(x, 0)), then z-score). Missing values become ``default_value`` (the mean when not
    given); ``missing_indicator=True`` adds a 0/1 "was missing" column.

    Example::

        >>> numeric_column("fnlwgt", normalizer="log", missing_indicator=True).normalizer
        'log'
    """
    return NumericColumn(key, normalizer=normalizer, default_value=default_value, missing_indicator=missing_indicator)


def bucketized_column(source_column: NumericColumn, boundaries: Sequence[float] | None = None,
                      num_buckets: int | None = None) -> BucketizedColumn:
    """Bucket ids of a numeric column: given ``boundaries``, or ``num_buckets`` quantile buckets from statistics.

    Example::

        >>> bucketized_column(numeric_column("age"), boundaries=[18, 30, 65]).num_ids
        4
    """
    _check(boundaries is not None or num_buckets is not None, "give boundaries or num_buckets")
    return BucketizedColumn(source_column, tuple(boundaries) if boundaries is not None else None, num_buckets)


def piecewise_linear_column(source_column: NumericColumn, boundaries: Sequence[float] | None = None,
                            num_bins: int | None = None) -> PiecewiseLinearColumn:
    """Piecewise-linear encoding (PLE; Gorishniy et al. 2022) of a number over bins ``[b_{t-1}, b_t)``.

    Output ``t`` (of ``T = len(boundaries) - 1``, in the dense block) is ``(x - b_{t-1}) / (b_t - b_{t-1})``
    clipped to ``[0, 1]``, so ``x`` reads as "bins below it full, its own bin partly, bins above empty". As in the
    paper's reference code the first output is not clipped below and the last not above, so values outside the
    fitted range ``[b_0, b_T]`` extrapolate linearly instead of saturating (one bin: no clipping at all).
    Missing values are encoded as the source's ``default_value``. ``boundaries`` are the edges themselves;
    ``num_bins`` fits them from the statistics: ``b_0`` = min, ``b_T`` = max and the equal-count quantile
    boundaries of :func:`bucketized_column` between them (so a column with few distinct values gets fewer bins).

    Example::

        >>> piecewise_linear_column(numeric_column("age"), boundaries=[17, 30, 50, 90]).width
        3
    """
    _check(boundaries is not None or num_bins is not None, "give boundaries or num_bins")
    return PiecewiseLinearColumn(source_column, tuple(boundaries) if boundaries is not None else None, num_bins)


def periodic_column(source_column: NumericColumn, n_frequencies: int = 16, sigma: float = 0.1,
                    dimension: int = 8) -> PeriodicColumn:
    """A learned periodic embedding ("PLR", Gorishniy et al. 2022) of a normalized number, trained with each member.

    The preprocessor passes the source's normalized value ``x`` (its normalizer; missing → ``default_value``) in
    the ``periodic`` block; each Keras member then embeds it as ``ReLU(W [cos 2πcx, sin 2πcx] + b)`` with its own
    learned frequencies ``c`` (``n_frequencies``, initialized from N(0, ``sigma``²)) and linear map to
    ``dimension`` outputs. ``sigma`` sets the initial scale of the frequencies, the paper's most important
    setting: small values start smooth, large ones can fit high-frequency effects. Nothing is fitted from the
    statistics but the source's moments. Use a ``zscore`` (or ``log``) source so that ``x`` is on a unit scale.

    Example::

        >>> periodic_column(numeric_column("age", normalizer="zscore"), n_frequencies=8, dimension=4).name
        'age_periodic'
    """
    return PeriodicColumn(source_column, n_frequencies=n_frequencies, sigma=sigma, dimension=dimension)


def categorical_column_with_vocabulary_list(key: str, vocabulary_list: Sequence | None = None,
                                            num_oov_buckets: int = 1, top_k: int | None = None,
                                            min_count: int = 1, dtype: str | None = None) -> VocabularyListColumn:
    """Ids from a vocabulary; without ``vocabulary_list``, ``fit`` takes the top-k values with a minimum count.

    Ids: vocabulary ``0..n-1`` then ``num_oov_buckets`` hashed OOV ids; OOV values are dropped when 0.

    Example::

        >>> c = categorical_column_with_vocabulary_list("sex", ["Female", "Male"], num_oov_buckets=1)
        >>> c.num_ids
        3
    """
    return VocabularyListColumn(key, vocabulary=vocabulary_list, num_oov_buckets=num_oov_buckets, top_k=top_k,
                                min_count=min_count, dtype=dtype)


def categorical_column_with_vocabulary_file(key: str, vocabulary_file: str, vocabulary_size: int | None = None,
                                            num_oov_buckets: int = 1, dtype: str | None = None
                                            ) -> VocabularyFileColumn:
    """Ids from a vocabulary file (one token per line, first ``vocabulary_size`` lines); read by ``fit``.

    Example::

        >>> categorical_column_with_vocabulary_file("race", "/tmp/race.txt").name
        'race'
    """
    return VocabularyFileColumn(key, vocabulary_file, vocabulary_size=vocabulary_size,
                                num_oov_buckets=num_oov_buckets, dtype=dtype)


def categorical_column_with_identity(key: str, num_buckets: int, default_value: int | None = None) -> IdentityColumn:
    """Integer values used as ids in ``[0, num_buckets)``; others become ``default_value`` or are dropped.

    Example::

        >>> categorical_column_with_identity("education-num", num_buckets=17).num_ids
        17
    """
    return IdentityColumn(key, num_buckets, default_value=default_value)


def categorical_column_with_hash_bucket(key: str, hash_bucket_size: int, dtype: str | None = None
                                        ) -> HashBucketColumn:
    """Ids = ``to_hash_bucket_fast(as_string(value), hash_bucket_size)``, as in ``tf.feature_column``.

    Example::

        >>> categorical_column_with_hash_bucket("native-country", 64).num_ids
        64
    """
    return HashBucketColumn(key, hash_bucket_size, dtype=dtype)


def crossed_column(keys: Sequence, hash_bucket_size: int) -> CrossedColumn:
    """Hashed cross of raw feature names and/or categorical columns (single-valued inputs).

    Example::

        >>> crossed_column(["education", "occupation"], 1000).num_ids
        1000
    """
    return CrossedColumn(tuple(keys), hash_bucket_size)


def embedding_column(categorical_column: CategoricalColumn, dimension: int, combiner: str = "mean"
                     ) -> EmbeddingColumn:
    """A trainable ``dimension``-wide embedding; ``combiner`` (mean/sum/sqrtn) reduces multi-valued inputs.

    Example::

        >>> embedding_column(categorical_column_with_hash_bucket("x", 10), 4).name
        'x_embedding'
    """
    return EmbeddingColumn(categorical_column, dimension, combiner)


def indicator_column(categorical_column: CategoricalColumn) -> IndicatorColumn:
    """Multi-hot (one-hot for single values) encoding of a categorical column, in the wide block.

    Example::

        >>> indicator_column(categorical_column_with_identity("n", 3)).name
        'n_indicator'
    """
    return IndicatorColumn(categorical_column)


def validate_definitions(definitions: Sequence[Definition]) -> tuple[Definition, ...]:
    """Checks the types and that names are unique; returns the definitions as a tuple.

    Example::

        >>> len(validate_definitions([numeric_column("a"), numeric_column("b")]))
        2
    """
    definitions = tuple(definitions)
    for d in definitions:
        _check(isinstance(d, DEFINITION_TYPES), f"not a feature definition: {d!r}")
    names = [d.name for d in definitions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    _check(not duplicates, f"duplicate feature names: {duplicates}")
    return definitions


def is_fitted(definitions: Sequence[Definition]) -> bool:
    """True when every definition has all the values compilation needs."""
    return all(d.is_fitted for d in definitions)
