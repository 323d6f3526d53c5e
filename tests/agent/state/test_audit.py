"""The audit log: one JSON line per event, private, rotated, and never in the way of signing."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256

from tanba.agent.access.summary import of_data, of_digest
from tanba.agent.setup.testpki import Manifest
from tanba.agent.state.audit import AuditEvent, AuditLog, summarize
from tanba.protocol.errors import UserCancelled
from tanba.providers.base import Identity


def ident(pki: Manifest, name: str) -> Identity:
    cert = x509.load_pem_x509_certificate(pki.identities[name].cert_pem.read_bytes())
    return Identity(id=name, storage="PKCS12", certificate=cert, chain=(), location=f"/k/{name}.p12", key_ref=name)


def test_a_signature_is_one_private_json_line_without_content(tmp_path: Path, pki: Manifest) -> None:
    secret_text = b"salary statement: 1 000 000 KZT"
    audit = AuditLog(tmp_path / "state" / "audit.log")
    event = AuditEvent.build("https://egov.kz", "sign", "sign", certificates=[ident(pki, "rsa-sign")],
                             documents=[of_data(secret_text), of_digest(b"\x11" * 32, "sha256")])
    audit.record(event)
    assert audit.flush()
    raw = (tmp_path / "state" / "audit.log").read_bytes()
    assert secret_text not in raw  # digests, never content
    [line] = raw.decode().splitlines()
    entry = json.loads(line)
    assert entry["origin"] == "https://egov.kz" and entry["method"] == "sign" and entry["result"] == "ok"
    assert entry["time"].endswith("Z")
    [cert] = entry["certificates"]
    assert cert["fingerprintSha256"] == ident(pki, "rsa-sign").certificate.fingerprint(SHA256()).hex()
    assert "IIN" in cert["subject"]
    assert entry["documents"][0]["size"] == len(secret_text)
    assert entry["documents"][1] == {"digestAlgorithm": "sha256", "digest": "11" * 32, "size": None}
    assert stat.S_IMODE((tmp_path / "state" / "audit.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    audit.close()


def test_errors_carry_their_reason(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    audit.record(AuditEvent.build("https://portal.test", "certs.list", "disclose", error=UserCancelled("no")))
    audit.flush()
    [entry] = audit.recent(5)
    assert entry["result"] == "error" and entry["reason"] == "user_cancelled"
    assert "user_cancelled" in summarize([entry])[0]
    audit.close()


def test_rotation_keeps_n_files_and_recent_reads_across_them(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log", max_bytes=700, keep=2)
    for number in range(40):
        audit.record(AuditEvent(f"https://site{number}.kz", "sign", "sign", "ok", time=1_700_000_000 + number))
    audit.flush()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 700
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    last = audit.recent(5)
    assert [e["origin"] for e in last] == [f"https://site{n}.kz" for n in range(35, 40)]
    # more than the kept files hold: the oldest are gone, the order is kept
    kept = audit.recent(1000)
    numbers = [int(e["origin"][len("https://site"):-3]) for e in kept]
    assert numbers == sorted(numbers) and numbers[-1] == 39 and numbers[0] > 0
    audit.close()


def test_a_full_disk_is_logged_and_signing_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.log"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC, like a full disk
    audit = AuditLog(path)
    with caplog.at_level(logging.ERROR, logger="tanba.agent.state.audit"):
        audit.record(AuditEvent("https://egov.kz", "sign", "sign", "ok"))
        audit.record(AuditEvent("https://egov.kz", "sign", "sign", "ok"))
        assert audit.flush()
    assert audit.dropped == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "signing goes on" in errors[0].getMessage()  # said once, not per event
    path.unlink()  # space again
    audit.record(AuditEvent("https://egov.kz", "auth", "auth", "ok"))
    audit.flush()
    assert [e["method"] for e in audit.recent(5)] == ["auth"]
    audit.close()


def test_record_does_not_wait_for_a_stuck_disk(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    os.mkfifo(path)  # opening it for writing blocks until someone reads: a disk that hangs
    audit = AuditLog(path)
    started = time.monotonic()
    for _ in range(50):
        audit.record(AuditEvent("https://egov.kz", "sign", "sign", "ok"))
    assert time.monotonic() - started < 0.5  # the signing path never waited for the disk
    # The disk comes back: a reader appears.  We also hold a write end ourselves, so the
    # reader sees no end-of-file between the writer's per-line opens and no line is lost.
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    data = b""
    try:
        deadline = time.monotonic() + 10
        while data.count(b"\n") < 50 and time.monotonic() < deadline:
            ready, _, _ = select.select([reader], [], [], 0.1)
            if ready:
                data += os.read(reader, 65536)
        assert audit.flush(10)
        audit.close()
    finally:
        os.close(keep)
        os.close(reader)
    assert data.count(b"\n") == 50


def test_recent_skips_damaged_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"origin":"https://a.kz","method":"sign"}\nnot json\n[1,2]\n{"origin":"https://b.kz","method":"auth"}\n')
    assert [e["origin"] for e in AuditLog(path).recent(10)] == ["https://a.kz", "https://b.kz"]
    assert AuditLog(tmp_path / "none.log").recent(10) == []


# -- commit: the request path's write -----------------------------------------------------------

COMMIT_AND_DIE = """
import asyncio, os, signal, sys
from pathlib import Path
from tanba.agent.state.audit import AuditEvent, AuditLog
log = AuditLog(Path(sys.argv[1]))
asyncio.run(log.commit(AuditEvent("https://egov.kz", "sign", "sign", "ok")))
os.kill(os.getpid(), signal.SIGKILL)  # the agent dies the moment the answer could go out
"""


def test_a_committed_line_survives_the_agent_being_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.log"
    proc = subprocess.run([sys.executable, "-c", COMMIT_AND_DIE, str(path)], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    [entry] = AuditLog(path).recent(5)
    assert entry["origin"] == "https://egov.kz" and entry["result"] == "ok"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_commit_writes_before_it_returns_and_keeps_the_order(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    audit.record(AuditEvent("https://queued.kz", "sign", "sign", "ok"))  # queued for the thread
    for number in range(20):
        await audit.commit(AuditEvent(f"https://site{number}.kz", "sign", "sign", "ok"))
        assert audit.recent(1)[0]["origin"] == f"https://site{number}.kz"  # no flush: in the file
    assert [e["origin"] for e in audit.recent(2)] == ["https://site18.kz", "https://site19.kz"]
    assert audit.recent(100)[0]["origin"] == "https://queued.kz"  # the queued line went first
    audit.close()


@pytest.mark.parametrize("change", ["moved", "removed"])
async def test_commit_follows_the_file_when_it_is_moved_or_removed(tmp_path: Path, change: str) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path)
    await audit.commit(AuditEvent("https://first.kz", "sign", "sign", "ok"))
    if change == "moved":
        path.rename(tmp_path / "audit.log.moved")  # an administrator (or logrotate) made room
    else:
        path.unlink()
    await audit.commit(AuditEvent("https://second.kz", "sign", "sign", "ok"))
    assert [e["origin"] for e in audit.recent(5)] == ["https://second.kz"]
    if change == "moved":
        assert "https://first.kz" in (tmp_path / "audit.log.moved").read_text()
    audit.close()


async def test_commit_rotates_like_record(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log", max_bytes=700, keep=2)
    for number in range(40):
        event = AuditEvent(f"https://site{number}.kz", "sign", "sign", "ok", time=1_700_000_000 + number)
        await audit.commit(event)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.log", "audit.log.1", "audit.log.2"]
    for name in ("audit.log", "audit.log.1", "audit.log.2"):
        assert (tmp_path / name).stat().st_size <= 700
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert [e["origin"] for e in audit.recent(3)] == [f"https://site{n}.kz" for n in range(37, 40)]
    audit.close()


async def test_lines_are_synced_to_disk_in_groups_off_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[str, int]] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        synced.append((threading.current_thread().name, os.fstat(fd).st_size))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    audit = AuditLog(tmp_path / "audit.log")
    for _ in range(200):
        await audit.commit(AuditEvent("https://egov.kz", "sign", "sign", "ok"))
    audit.close()  # the last lines reach the disk too
    size = (tmp_path / "audit.log").stat().st_size
    assert synced and synced[-1][1] == size
    assert len(synced) < 20  # grouped: not one disk flush per line
    assert {name for name, _ in synced} == {"tanba-audit"}  # never on the event loop's thread


async def test_commit_on_a_stuck_disk_waits_without_holding_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    os.mkfifo(path)  # opening it for writing blocks until someone reads: a disk that hangs
    audit = AuditLog(path)
    commit = asyncio.create_task(audit.commit(AuditEvent("https://egov.kz", "sign", "sign", "ok")))
    ticks = 0
    for _ in range(20):  # the loop keeps running while the line waits for the disk
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not commit.done()  # the answer waits for its line
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        await asyncio.wait_for(commit, 10)  # the disk came back: the line is written, commit returns
        data = os.read(reader, 65536)
    finally:
        os.close(reader)
    assert json.loads(data)["origin"] == "https://egov.kz"
    audit.close()
