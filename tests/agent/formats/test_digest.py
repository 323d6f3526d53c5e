"""Chunked hashing: same digests as OpenSSL, bounded memory, clear errors."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from support.gost_engine import openssl as gost_openssl
from tanba.agent.formats.digest import CHUNK_SIZE, MAP_WINDOW, digest_of, hash_file, hash_stream
from tanba.crypto import hashes as national_hashes
from tanba.protocol.errors import InvalidParams
from tanba.providers.base import HashAlgorithm


def openssl_dgst(alg: HashAlgorithm, path: Path) -> bytes:
    out = subprocess.run(["openssl", "dgst", f"-{alg.value}", "-binary", str(path)],
                         capture_output=True, check=True, timeout=60).stdout
    return out


@pytest.mark.parametrize("alg", [a for a in HashAlgorithm if not a.national])
@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 17, 2 * MAP_WINDOW + 4097])
def test_file_digest_matches_openssl(tmp_path: Path, alg: HashAlgorithm, size: int) -> None:
    path = tmp_path / "doc.bin"
    path.write_bytes((bytes(range(251)) * (size // 251 + 1))[:size])
    digest = hash_file(path, alg)
    assert len(digest) == alg.digest_size
    assert digest == openssl_dgst(alg, path)


# Streebog runs at well under 1 MiB/s in Python: sizes that still cross the read and map paths
@pytest.mark.parametrize(("alg", "engine_md"), [(HashAlgorithm.STREEBOG256, "-md_gost12_256"),
                                                (HashAlgorithm.STREEBOG512, "-md_gost12_512")])
@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE + 17])
def test_file_streebog_matches_the_gost_engine(tmp_path: Path, alg: HashAlgorithm, engine_md: str, size: int) -> None:
    path = tmp_path / "doc.bin"
    path.write_bytes((bytes(range(251)) * (size // 251 + 1))[:size])
    theirs = gost_openssl(tmp_path, "dgst", engine_md, "-binary", str(path)).stdout
    assert hash_file(path, alg) == theirs and len(theirs) == alg.digest_size


def test_file_gost34311_reads_like_one_shot(tmp_path: Path) -> None:
    # the engine's GOST R 34.11-94 uses the CryptoPro S-boxes, not KZ's test S-boxes: the
    # hash itself is held to RFC 5831 in tests/crypto; here the file paths must agree with it
    data = (bytes(range(251)) * 5000)[: CHUNK_SIZE + 33]
    path = tmp_path / "doc.bin"
    path.write_bytes(data)
    assert hash_file(path, HashAlgorithm.GOST34311) == national_hashes.digest("gost34311-95", data)
    assert digest_of(io.BytesIO(data), HashAlgorithm.GOST34311) == national_hashes.digest("gost34311-95", data)


def test_every_source_kind_gives_the_same_digest(tmp_path: Path) -> None:
    data = b"0123456789abcdef" * 200_000
    path = tmp_path / "doc.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).digest()
    alg = HashAlgorithm.SHA256
    assert digest_of(data, alg) == expected
    assert digest_of(bytearray(data), alg) == expected
    assert digest_of(memoryview(data), alg) == expected
    assert digest_of(path, alg) == expected
    assert digest_of(io.BytesIO(data), alg) == expected
    assert digest_of(iter([data[:5], data[5:]]), alg) == expected
    with path.open("rb") as f:
        assert hash_stream(f, alg, chunk_size=4096) == expected


def test_file_is_hashed_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.truncate(40 * CHUNK_SIZE)  # 40 MiB (sparse) file
    tracemalloc.start()
    try:
        digest = hash_file(path, HashAlgorithm.SHA512)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * CHUNK_SIZE, f"peak {peak} bytes hashing a 40 MiB file"
    assert digest == openssl_dgst(HashAlgorithm.SHA512, path)


def test_mapped_file_stays_out_of_memory(tmp_path: Path) -> None:
    """The sliding map keeps at most one window resident: a 256 MiB file costs a process
    about what a small one does (tracemalloc cannot see maps; the kernel's peak RSS can)."""
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.truncate(256 * CHUNK_SIZE)
    code = (
        "import resource, sys\n"
        "from tanba.agent.formats.digest import hash_file\n"
        "from tanba.providers.base import HashAlgorithm\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "hash_file(sys.argv[1], HashAlgorithm.SHA256)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    grown_kib = int(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                                   check=True, timeout=120).stdout)
    assert grown_kib * 1024 < 3 * MAP_WINDOW, f"peak RSS grew by {grown_kib} KiB for a 256 MiB file"


def test_missing_file_is_invalid_params(tmp_path: Path) -> None:
    with pytest.raises(InvalidParams) as exc:
        digest_of(tmp_path / "nope.pdf", HashAlgorithm.SHA256)
    assert "nope.pdf" in exc.value.detail


def test_non_bytes_chunks_are_invalid_params() -> None:
    with pytest.raises(InvalidParams):
        digest_of(iter(["text, not bytes"]), HashAlgorithm.SHA256)  # type: ignore[list-item]


def test_a_mapped_file_hash_stops_when_abandoned(tmp_path: Path) -> None:
    from tanba.agent.formats.digest import Abandoned

    path = tmp_path / "doc.bin"
    path.write_bytes(b"a" * (CHUNK_SIZE + 1))
    with pytest.raises(Abandoned):
        hash_file(path, HashAlgorithm.SHA256, abandoned=lambda: True)
    assert hash_file(path, HashAlgorithm.SHA256, abandoned=lambda: False) == hashlib.sha256(path.read_bytes()).digest()
