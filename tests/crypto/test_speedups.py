"""The optional C extension (crypto/_speedups.c) against the pure-Python reference.

Both paths hash from the same state, so every comparison here runs one input through
``accel.use_pure(True)`` and ``accel.use_pure(False)`` and wants the same bytes.  Under CI the
extension must have been built (a missing compiler there is a failure, not a skip).
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator, Sequence

import pytest

from tanba.crypto import accel, hashes
from tanba.crypto.gost341194 import TEST_SBOX, Gost341194
from tanba.crypto.streebog import Streebog

NAMES = ["streebog256", "streebog512", "gost34311-95", "gost3411-94"]


def test_the_extension_is_built_under_ci() -> None:
    if os.environ.get("CI"):
        assert accel.available(), "tanba.crypto._speedups did not import: was it built (pip install -e .)?"
    elif not accel.available():
        pytest.skip("the C extension is not built here")


@pytest.fixture
def paths() -> Iterator[None]:
    """Both paths are there to compare (else skip; under CI a skip fails); the session's choice
    (pure under TANBA_PURE_PYTHON=1) is put back afterwards."""
    if not accel.available():
        pytest.skip("the C extension is not built here")
    previous = accel.use_pure(False)
    accel.use_pure(previous)
    yield
    accel.use_pure(previous)


def in_mode(pure: bool, name: str, chunks: Sequence[bytes | bytearray | memoryview]) -> bytes:
    accel.use_pure(pure)
    h = hashes.new(name)
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


def both(name: str, chunks: Sequence[bytes | bytearray | memoryview]) -> tuple[bytes, bytes]:
    """(pure digest, C digest) of the concatenated chunks."""
    return in_mode(True, name, chunks), in_mode(False, name, chunks)


def split_at_random(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut at random points (empty pieces included), as a caller's reads would be."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(6)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def test_use_pure_switches_the_path_and_reports_the_previous_setting(paths: None) -> None:
    assert accel.use_pure(True) in (True, False)
    assert accel.speedups() is None and not accel.enabled()
    assert accel.use_pure(False) is True
    assert accel.speedups() is not None and accel.enabled()


@pytest.mark.parametrize("name", NAMES)
def test_every_length_to_300_bytes_gives_the_same_digest(name: str, paths: None) -> None:
    rng = random.Random(f"lengths-{name}")
    for length in range(301):
        data = rng.randbytes(length)
        pure, fast = both(name, [data])
        assert pure == fast, length
        assert len(fast) == hashes.DIGEST_SIZES[name]


@pytest.mark.parametrize("name", NAMES)
def test_chunked_updates_at_odd_boundaries_give_the_same_digest(name: str, paths: None) -> None:
    rng = random.Random(f"chunks-{name}")
    for _ in range(60):
        data = rng.randbytes(rng.randrange(1, 700))
        whole = in_mode(False, name, [data])
        chunks = split_at_random(data, rng)
        pure, fast = both(name, chunks)
        assert pure == fast == whole, [len(c) for c in chunks]


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_of_buffer_gives_the_same_digest(name: str, paths: None) -> None:
    data = random.Random(name).randbytes(5000)  # past the size at which the C code drops the GIL
    want = in_mode(True, name, [data])
    wide = memoryview(bytearray(data)).cast("I")  # a non-byte format: hashed as its bytes
    assert in_mode(False, name, [bytearray(data)]) == want
    assert in_mode(False, name, [memoryview(data)[:1001], memoryview(data)[1001:]]) == want
    assert in_mode(False, name, [wide]) == want


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_one_mebibyte_gives_the_same_digest(name: str, paths: None) -> None:
    data = random.Random(f"mib-{name}").randbytes(1 << 20)
    pure, fast = both(name, [data])
    assert pure == fast


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pure", [True, False], ids=["pure", "c"])
def test_copy_mid_stream_forks_the_state(name: str, pure: bool, paths: None) -> None:
    rng = random.Random(f"copy-{name}")
    head, tail_a, tail_b = rng.randbytes(100), rng.randbytes(77), rng.randbytes(130)
    accel.use_pure(pure)
    h = hashes.new(name, head)
    c = h.copy()
    h.update(tail_a)
    c.update(tail_b)
    assert h.digest() == in_mode(not pure, name, [head + tail_a])
    assert c.digest() == in_mode(not pure, name, [head, tail_b])


@pytest.mark.parametrize("name", NAMES)
def test_the_state_carries_over_when_the_path_changes_mid_stream(name: str, paths: None) -> None:
    data = random.Random(f"switch-{name}").randbytes(999)
    accel.use_pure(False)
    h = hashes.new(name, data[:400])
    accel.use_pure(True)
    h.update(data[400:650])
    accel.use_pure(False)
    h.update(data[650:])
    assert h.digest() == in_mode(True, name, [data])


@pytest.mark.parametrize("name", NAMES)
def test_digest_does_not_finalise_on_the_c_path(name: str, paths: None) -> None:
    accel.use_pure(False)
    h = hashes.new(name, b"a" * 70)
    first = h.digest()
    assert h.digest() == first
    h.update(b"b" * 5)
    assert h.digest() == in_mode(True, name, [b"a" * 70 + b"b" * 5])


def test_rfc6986_example_1_through_the_c_path(paths: None) -> None:
    """RFC 6986 section 10.1 (M1, 63 ASCII digits), the digests as the RFC prints them reversed."""
    accel.use_pure(False)
    m1 = b"012345678901234567890123456789012345678901234567890123456789012"
    assert Streebog(64, m1).digest()[::-1].hex() == (
        "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00"
        "fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b")
    assert Streebog(32, m1).digest()[::-1].hex() == (
        "00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d")


def test_rfc5831_test_parameters_example_through_the_c_path(paths: None) -> None:
    accel.use_pure(False)
    assert Gost341194(TEST_SBOX, b"This is message, length=32 bytes").digest()[::-1].hex().upper() == (
        "FAFF37A615A816691CFF3EF8B68CA247E09525F39F8119832EB81975D366C4B1")


@pytest.mark.parametrize("pad_empty", [False, True])
def test_gost94_empty_message_is_the_same_on_both_paths(pad_empty: bool, paths: None) -> None:
    accel.use_pure(True)
    pure = Gost341194(TEST_SBOX, pad_empty=pad_empty).digest()
    accel.use_pure(False)
    assert Gost341194(TEST_SBOX, pad_empty=pad_empty).digest() == pure


def test_hashing_on_threads_gives_each_its_own_digest(paths: None) -> None:
    """The C code drops the GIL over large buffers; threads hashing at once do not mix states."""
    accel.use_pure(False)
    inputs = [random.Random(i).randbytes(3 << 20) for i in range(4)]
    want = [hashes.new("streebog256", d).digest() for d in inputs]
    got: list[bytes] = [b""] * len(inputs)

    def work(i: int) -> None:
        h = hashes.new("streebog256")
        for off in range(0, len(inputs[i]), 1 << 20):
            h.update(memoryview(inputs[i])[off:off + (1 << 20)])
        got[i] = h.digest()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def test_the_extension_refuses_malformed_arguments(paths: None) -> None:
    accel.use_pure(False)
    ext = accel.speedups()
    assert ext is not None
    with pytest.raises(ValueError, match="whole 64-byte blocks"):
        ext.streebog_compress(bytes(ext.CTX_SIZE), bytes(192), b"x" * 65)
    with pytest.raises(ValueError, match="ctx must be"):
        ext.streebog_compress(b"short", bytes(192), b"")
    with pytest.raises(ValueError, match="state must be"):
        ext.gost94_compress(bytes(ext.TABLES_SIZE), bytes(63), b"")
    with pytest.raises(ValueError, match="whole 32-byte blocks"):
        ext.gost94_compress(bytes(ext.TABLES_SIZE), bytes(64), b"x" * 31)
    with pytest.raises(TypeError):
        ext.gost94_step(bytes(ext.TABLES_SIZE), "not bytes", bytes(32))  # type: ignore[arg-type]
