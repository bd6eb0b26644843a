import numpy as np
import pyarrow as pa
from google.protobuf.internal import encoder

from tfpipe.pipelines.varint import Varint, length_delimited, regroup, segments_to_binary, varint_array, varint_sizes


def _reference_varint(value: int) -> bytes:
    out = []
    encoder._VarintEncoder()(out.append, value, True)
    return b"".join(out)


def test_varint_matches_protobuf_encoder_over_the_whole_range():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        np.array([0, 1, 127, 128, 16383, 16384, 2**32, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64),
        rng.integers(0, 2**63, 500, dtype=np.uint64) >> rng.integers(0, 63, 500).astype(np.uint64)])
    encoded = varint_array(values).to_pylist()
    assert encoded == [_reference_varint(int(v)) for v in values]
    assert varint_sizes(values).tolist() == [len(b) for b in encoded]


def test_negative_int64_is_ten_bytes_twos_complement():
    encoded = varint_array(np.array([-1], dtype=np.int64).view(np.uint64)).to_pylist()[0]
    assert encoded == _reference_varint(2**64 - 1) and len(encoded) == 10


def test_segments_mix_constants_varints_and_raw_bytes_and_drop_absent_rows():
    raw = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.uint8)
    out = segments_to_binary(3, [b"\x0a", Varint(np.array([1, 300, 5])), raw], np.array([True, True, False]))
    assert out.to_pylist() == [b"\x0a\x01\x01\x02", b"\x0a\xac\x02\x03\x04", b""]


def test_length_delimited_and_regroup():
    framed = length_delimited(b"\x12", pa.array([b"ab", b"", b"x" * 200]))
    assert framed.to_pylist() == [b"\x12\x02ab", b"\x12\x00", b"\x12\xc8\x01" + b"x" * 200]
    assert regroup(pa.array([b"a", b"b", b"c", b"d"]), np.array([0, 2, 2, 4])).to_pylist() == [b"ab", b"", b"cd"]
