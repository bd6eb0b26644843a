"""How a missing value looks after ``tf.io.parse_example`` with :func:`tfpipe.features.parse_spec`.

An absent feature (the encoding of a missing value, docs/CONTRACTS.md) parses to these sentinels, which the
preprocessing layers turn into the column's ``default_value`` (numbers) or into "no id" (categoricals).

Example::

    >>> MISSING_INT == -2**63 and MISSING_STRING == ""
    True
"""
import math

MISSING_FLOAT = math.nan          # float_list features
MISSING_INT = -(2**63)            # int64_list features (the smallest int64)
MISSING_STRING = ""               # bytes_list features (an empty string is treated as missing)

MISSING_BY_DTYPE = {"float32": MISSING_FLOAT, "int64": MISSING_INT, "string": MISSING_STRING}
