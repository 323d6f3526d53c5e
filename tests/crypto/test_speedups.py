"""The optional C extension (crypto/_speedups.c) against the pure-Python reference.

Both paths hash from the same state, so every comparison here runs one input through
``accel.use_pure(True)`` and ``accel.use_pure(False)`` and wants the same bytes.  Under CI the
extension must have been built (a missing compiler there is a failure, not a skip).  belt-hash
(its own section at the end) is hashed through :class:`BeltHash` itself, and asks
``accel.belt_speedups`` rather than ``accel.speedups``.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator, Sequence

import pytest

from tanba.crypto import accel, belt, hashes
from tanba.crypto.belt import BeltHash
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


# --- belt-hash --------------------------------------------------------------------------------


@pytest.fixture
def belt_paths(paths: None) -> None:
    """As ``paths``, and the built extension has ``belt_compress`` (one built before it has
    not: belt-hash then runs in Python, which is tested below; here that is a skip, under CI a
    failure)."""
    previous = accel.use_pure(False)
    ext = accel.belt_speedups()
    accel.use_pure(previous)
    if ext is None:
        pytest.skip("the C extension was built before belt_compress: rebuild it")


def belt_in_mode(pure: bool, chunks: Sequence[bytes | bytearray | memoryview]) -> bytes:
    accel.use_pure(pure)
    h = BeltHash()
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


def belt_both(chunks: Sequence[bytes | bytearray | memoryview]) -> tuple[bytes, bytes]:
    """(pure digest, C digest) of the concatenated chunks."""
    return belt_in_mode(True, chunks), belt_in_mode(False, chunks)


def test_belt_every_length_to_200_bytes_gives_the_same_digest(belt_paths: None) -> None:
    rng = random.Random("belt-lengths")
    for length in range(201):
        data = rng.randbytes(length)
        pure, fast = belt_both([data])
        assert pure == fast, length
        chunks = split_at_random(data, rng)
        assert belt_both(chunks) == (pure, pure), [len(c) for c in chunks]


@pytest.mark.parametrize("length", [4095, 4096, 4097, 5000, 40_000 + 7, 100_003])
def test_belt_large_inputs_split_across_updates_give_the_same_digest(length: int, belt_paths: None) -> None:
    """Around and past the size at which the C code drops the GIL, whole and in pieces."""
    rng = random.Random(f"belt-large-{length}")
    data = rng.randbytes(length)
    pure = belt_in_mode(True, [data])
    assert belt_in_mode(False, [data]) == pure
    for _ in range(3):
        chunks = split_at_random(data, rng)
        assert belt_in_mode(False, chunks) == pure, [len(c) for c in chunks]
    # block-aligned and unaligned pieces of a few KiB, as a file read in chunks would come
    assert belt_in_mode(False, [data[i:i + 4096] for i in range(0, length, 4096)]) == pure
    assert belt_in_mode(False, [data[i:i + 4099] for i in range(0, length, 4099)]) == pure


@pytest.mark.slow
def test_belt_one_mebibyte_gives_the_same_digest(belt_paths: None) -> None:
    data = random.Random("belt-mib").randbytes((1 << 20) + 13)
    pure, fast = belt_both([data[:300_000], data[300_000:]])
    assert pure == fast == belt_in_mode(False, [data])


def test_belt_every_kind_of_buffer_gives_the_same_digest(belt_paths: None) -> None:
    data = random.Random("belt-buffers").randbytes(5000)
    want = belt_in_mode(True, [data])
    wide = memoryview(bytearray(data)).cast("I")  # a non-byte format: hashed as its bytes
    assert belt_in_mode(False, [bytearray(data)]) == want
    assert belt_in_mode(False, [memoryview(data)[:1001], memoryview(data)[1001:]]) == want
    assert belt_in_mode(False, [wide]) == want


def test_belt_stb_a23_vectors_through_the_c_path(belt_paths: None) -> None:
    """STB 34.101.31 table A.23: belt-hash of H[0..n-1] (n = 32 and 48 reach the C code)."""
    accel.use_pure(False)
    assert BeltHash(belt.H[:13]).hexdigest().upper() == (
        "ABEF9725D4C5A83597A367D14494CC2542F20F659DDFECC961A3EC550CBA8C75")
    assert BeltHash(belt.H[:32]).hexdigest().upper() == (
        "749E4C3653AECE5E48DB4761227742EB6DBE13F4A80F7BEFF1A9CF8D10EE7786")
    assert BeltHash(belt.H[:48]).hexdigest().upper() == (
        "9D02EE446FB6A29FE5C982D4B13AF9D3E90861BC4CEF27CF306BFB0B174A154A")


def test_belt_takes_the_c_path_when_it_is_there(belt_paths: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every whole block, the padded tail and the final length block go through
    ``belt_compress`` (and none when the pure path is forced)."""
    accel.use_pure(False)
    ext = accel.speedups()
    assert ext is not None and accel.belt_speedups() is ext
    real = ext.belt_compress
    fed: list[int] = []

    def spy(state: bytes, data: bytes | bytearray | memoryview, /) -> bytes:
        fed.append(len(memoryview(data)))
        return real(state, data)

    monkeypatch.setattr(ext, "belt_compress", spy)
    data = random.Random("belt-spy").randbytes(1000)
    h = BeltHash(data[:10])
    h.update(data[10:])
    assert h.digest() == belt_in_mode(True, [data])
    # the first block through the pending tail, 30 from the buffer; then digest(): the
    # zero-padded 8-byte tail and <|X|> || s
    assert fed == [32, 960, 32, 32]
    fed.clear()
    belt_in_mode(True, [data])
    assert fed == []


def test_belt_runs_in_python_on_an_extension_built_before_belt_compress(
        belt_paths: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """accel checks once, at import, whether the extension has ``belt_compress``; without it
    the other hashes keep the C path and belt-hash takes the pure one."""
    data = random.Random("belt-old-build").randbytes(777)
    want = belt_in_mode(True, [data])
    monkeypatch.setattr(accel, "_BELT_EXTENSION", None)
    accel.use_pure(False)
    assert accel.speedups() is not None and accel.belt_speedups() is None
    assert belt_in_mode(False, [data]) == want


def test_belt_state_carries_over_when_the_path_changes_mid_stream(belt_paths: None) -> None:
    data = random.Random("belt-switch").randbytes(999)
    accel.use_pure(False)
    h = BeltHash(data[:400])
    accel.use_pure(True)
    h.update(data[400:650])
    accel.use_pure(False)
    c = h.copy()
    h.update(data[650:])
    c.update(data[650:700])
    assert h.digest() == belt_in_mode(True, [data])
    assert c.digest() == belt_in_mode(True, [data[:700]])
    assert h.digest() == belt_in_mode(True, [data])  # digest() did not finalise


def test_belt_hashing_on_threads_gives_each_its_own_digest(belt_paths: None) -> None:
    """The C code drops the GIL over large buffers; threads hashing at once do not mix states."""
    accel.use_pure(False)
    inputs = [random.Random(f"belt-thread-{i}").randbytes(1 << 20) for i in range(4)]
    want = [BeltHash(d).digest() for d in inputs]
    got: list[bytes] = [b""] * len(inputs)

    def work(i: int) -> None:
        h = BeltHash()
        for off in range(0, len(inputs[i]), 1 << 18):
            h.update(memoryview(inputs[i])[off:off + (1 << 18)])
        got[i] = h.digest()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def test_belt_compress_refuses_malformed_arguments(belt_paths: None) -> None:
    accel.use_pure(False)
    ext = accel.belt_speedups()
    assert ext is not None
    with pytest.raises(ValueError, match="state must be 48 bytes"):
        ext.belt_compress(bytes(47), b"")
    with pytest.raises(ValueError, match="whole 32-byte blocks"):
        ext.belt_compress(bytes(48), b"x" * 33)
    with pytest.raises(TypeError):
        ext.belt_compress("not bytes", bytes(32))  # type: ignore[arg-type]
    assert ext.belt_compress(bytes(48), b"") == bytes(48)
