"""Packed files: exact round trips, bit-packed masks, selective reads and one InputError for every bad file."""

from __future__ import annotations

import json
import lzma

import numpy as np
import pytest

from atrialjsq.errors import InputError
from atrialjsq.io.packed import array_spec, pack_array, read_packed, write_packed


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "codes": rng.integers(0, 256, size=(7, 5, 3)).astype(np.uint8),
        "counts": rng.integers(-30000, 30000, size=(4, 6)).astype(np.int16),
        "ids": np.arange(-5, 6, dtype=np.int64),
        "phi": rng.normal(0, 20, size=(6, 4, 5)).astype(np.float16),
        "big_endian": rng.normal(size=(3, 3)).astype(">f4"),
        "double": rng.normal(size=(2, 3, 4)),
        "flags": rng.random((3, 4)) > 0.5,
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "view": np.arange(24, dtype=np.int32).reshape(4, 6).T,  # not C-contiguous
        "mask": rng.random((5, 7, 3)) > 0.7,  # 105 voxels: not a whole number of bytes
        "label": (rng.random((9, 4)) > 0.5).astype(np.uint8),
    }


def test_round_trip_keeps_every_dtype_shape_and_value_and_the_header(tmp_path):
    arrays = _arrays()
    header = {"format": "test-v1", "spacing": [1.0, 1.0, 2.5], "cases": [{"id": "a"}]}
    path = write_packed(tmp_path / "set.npz", arrays, header, bits={"mask", "label"})
    assert path == tmp_path / "set.npz"
    assert [p.name for p in tmp_path.iterdir()] == ["set.npz"]  # no temporary file left behind
    read_header, read = read_packed(path)
    assert read_header == header
    assert list(read) == list(arrays)
    for name, array in arrays.items():
        assert read[name].dtype == array.dtype, name
        assert read[name].shape == array.shape, name
        np.testing.assert_array_equal(read[name], array)
        assert read[name].flags.writeable, name


def test_bit_packed_masks_are_stored_eight_a_byte(tmp_path):
    mask = np.zeros((40, 30, 20), dtype=bool)
    mask[5:25, 3:17, 2:9] = True
    path = write_packed(tmp_path / "m.npz", {"mask": mask, "plain": mask}, {}, bits={"mask"})
    with np.load(path, allow_pickle=False) as data:
        index = json.loads(data["index"].tobytes().decode())
        assert index["arrays"]["mask"] == {"dtype": "|b1", "shape": [40, 30, 20], "bits": True}
        assert index["arrays"]["plain"]["bits"] is False
        assert len(lzma.decompress(data["mask"].tobytes())) == mask.size // 8
        assert len(lzma.decompress(data["plain"].tobytes())) == mask.size
    _, read = read_packed(path)
    np.testing.assert_array_equal(read["mask"], mask)


def test_a_bit_packed_array_must_hold_only_zero_and_one(tmp_path):
    with pytest.raises(ValueError, match="0 and 1"):
        write_packed(tmp_path / "x.npz", {"label": np.array([0, 1, 2], dtype=np.uint8)}, {}, bits={"label"})
    with pytest.raises(ValueError, match="not given"):
        write_packed(tmp_path / "x.npz", {"a": np.zeros(3)}, {}, bits={"b"})
    with pytest.raises(ValueError, match="dtype"):
        write_packed(tmp_path / "x.npz", {"a": np.array(["text"])}, {})
    with pytest.raises(ValueError, match="arrays"):
        write_packed(tmp_path / "x.npz", {"a": np.zeros(3)}, {"arrays": 1})
    with pytest.raises(ValueError, match="index"):
        write_packed(tmp_path / "x.npz", {"index": np.zeros(3)}, {})
    assert not any(tmp_path.iterdir())


def test_pre_packed_arrays_are_written_as_they_are(tmp_path):
    mask = np.eye(9, dtype=np.uint8)
    packed = pack_array(mask, bits=True)
    assert packed.spec == array_spec(np.uint8, (9, 9), bits=True)
    path = write_packed(tmp_path / "p.npz", {"mask": packed, "raw": mask}, {"n": 1})
    header, read = read_packed(path)
    assert header == {"n": 1}
    np.testing.assert_array_equal(read["mask"], mask)
    np.testing.assert_array_equal(read["raw"], mask)


def test_selective_reads_decode_only_the_named_arrays(tmp_path):
    arrays = {"a/image": np.arange(10.0), "a/la": np.ones(4, bool), "b/image": np.zeros(3, np.uint8)}
    path = write_packed(tmp_path / "s.npz", arrays, {"format": "f"})
    header, read = read_packed(path, ["b/image"])
    assert header == {"format": "f"} and list(read) == ["b/image"]
    _, read = read_packed(path, lambda name: name.startswith("a/"))
    assert list(read) == ["a/image", "a/la"]
    header, read = read_packed(path, ())
    assert header == {"format": "f"} and read == {}
    with pytest.raises(InputError, match="lacks array") as error:
        read_packed(path, ["c/image"])
    assert error.value.path == str(path)
    # An array that is not asked for is never decompressed: corrupting it does not affect the others.
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    members["a/image"] = np.frombuffer(b"not lzma", dtype=np.uint8)
    np.savez(tmp_path / "corrupt.npz", **members)
    _, read = read_packed(tmp_path / "corrupt.npz", ["b/image", "a/la"])
    np.testing.assert_array_equal(read["a/la"], arrays["a/la"])
    with pytest.raises(InputError, match=r"unreadable packed file \(LZMAError"):
        read_packed(tmp_path / "corrupt.npz")


def test_a_truncated_file_raises_an_input_error_naming_it(tmp_path):
    path = write_packed(tmp_path / "t.npz", _arrays(), {"format": "f"}, bits={"mask"})
    data = path.read_bytes()
    for size in (len(data) - 10, len(data) // 2, 100):
        cut = tmp_path / f"cut{size}.npz"
        cut.write_bytes(data[:size])
        with pytest.raises(InputError, match="unreadable packed file") as error:
            read_packed(cut)
        assert error.value.path == str(cut) and str(cut) in str(error.value)


def test_foreign_files_raise_one_clear_input_error(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(InputError, match=r"not a packed file .*no 'index' member") as error:
        read_packed(plain)
    assert error.value.path == str(plain)
    no_table = tmp_path / "no_table.npz"
    np.savez(no_table, index=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(InputError, match="no 'arrays' table"):
        read_packed(no_table)
    not_json = tmp_path / "not_json.npz"
    np.savez(not_json, index=np.frombuffer(b"\xff\xfe", dtype=np.uint8))
    with pytest.raises(InputError, match="not JSON"):
        read_packed(not_json)
    single = tmp_path / "single.npz"
    with open(single, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(InputError, match=r"single \.npy"):
        read_packed(single)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="unreadable predictions file"):
        read_packed(garbage, what="predictions file")
    with pytest.raises(InputError, match="no such packed file"):
        read_packed(tmp_path / "missing.npz")
    path = write_packed(tmp_path / "other.npz", {"a": np.zeros(2)}, {"format": "other-v1"})
    with pytest.raises(InputError, match=r"not a compact file \(format is not compact-v1\)"):
        read_packed(path, expect_format="compact-v1", what="compact file")


def test_an_index_entry_that_does_not_match_its_data_is_refused(tmp_path):
    blob = np.frombuffer(lzma.compress(np.arange(6, dtype=np.uint8).tobytes()), dtype=np.uint8)
    for spec, reason in (
        (array_spec(np.uint8, (7,)), "holds 6 bytes, expected 7"),
        ({"dtype": "|O", "shape": [6]}, "not a numeric array"),
        ({"shape": [6]}, "KeyError"),
    ):
        index = json.dumps({"arrays": {"a": spec}}).encode()
        path = tmp_path / "bad.npz"
        np.savez(path, index=np.frombuffer(index, dtype=np.uint8), a=blob)
        with pytest.raises(InputError, match=reason):
            read_packed(path)


def test_legacy_files_without_a_table_read_through_the_callers_table(tmp_path):
    # The pre-table layout: the same members, the dtypes and shapes implied by the header.
    codes = np.arange(12, dtype=np.uint8).reshape(3, 4)
    mask = codes % 3 == 0
    index = {"format": "old-v1", "shape": [3, 4]}
    np.savez(
        tmp_path / "old.npz",
        index=np.frombuffer(json.dumps(index).encode(), dtype=np.uint8),
        codes=np.frombuffer(lzma.compress(codes.tobytes()), dtype=np.uint8),
        mask=np.frombuffer(lzma.compress(np.packbits(mask).tobytes()), dtype=np.uint8),
    )

    def legacy(header, members):
        assert members == {"codes", "mask"}
        return {
            "codes": array_spec(np.uint8, header["shape"]),
            "mask": array_spec(np.uint8, header["shape"], bits=True),
        }

    header, read = read_packed(tmp_path / "old.npz", expect_format="old-v1", legacy=legacy)
    assert header == index
    np.testing.assert_array_equal(read["codes"], codes)
    np.testing.assert_array_equal(read["mask"], mask.astype(np.uint8))
    with pytest.raises(InputError, match="unreadable packed file"):
        read_packed(tmp_path / "old.npz", legacy=lambda header, members: {"codes": array_spec(np.uint8, [9])})
