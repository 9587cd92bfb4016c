"""Benchmark hds.crypto: login and code derivation cost, blob throughput against raw AES-256-GCM.

Run from the repository root: ``.venv/bin/python bench/bench_crypto.py``. Timings use
``time.perf_counter``; every figure is the median of several runs on this machine.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hds.crypto.accountkeys import (
    activation_kek,
    new_master_secret,
    password_material,
    pw_wrap_aad,
)
from hds.crypto.blob import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    BlobKind,
    BlobReader,
    encrypt_bytes,
    encrypt_stream,
)
from hds.crypto.codes import ACTIVATION_CODE_LENGTH, generate_code
from hds.crypto.kdf import CODE_PARAMS, PASSWORD_PARAMS, stretch
from hds.crypto.wrap import unwrap_secret, wrap_secret

MIB = 1 << 20
STUDY_ID = os.urandom(16)
BLOB_ID = os.urandom(16)
CHUNK = MIB  # what a streaming upload or store read typically hands over


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_login(repeats: int) -> float:
    """Return the median ms of a login: Argon2id (PASSWORD_PARAMS) + pepper + unwrap of the AMS."""
    salt, pepper, account = os.urandom(16), os.urandom(32), os.urandom(16)
    enrol = password_material("correct horse battery staple", salt, PASSWORD_PARAMS, pepper)
    wrapped = wrap_secret(enrol.kek, new_master_secret(), pw_wrap_aad(account))

    def login() -> bytes:
        material = password_material("correct horse battery staple", salt, PASSWORD_PARAMS, pepper)
        return unwrap_secret(material.kek, wrapped, pw_wrap_aad(account))

    return 1000 * _median_seconds(login, repeats)


def bench_activation_code(repeats: int) -> float:
    """Return the median ms of deriving KEK_ac from an activation code (PASSWORD_PARAMS)."""
    code, salt = generate_code(ACTIVATION_CODE_LENGTH), os.urandom(16)
    return 1000 * _median_seconds(lambda: activation_kek(code, salt, PASSWORD_PARAMS), repeats)


def bench_access_code(repeats: int) -> float:
    """Return the median ms of one access-code stretch (CODE_PARAMS, peppered)."""
    code, salt, pepper = generate_code(12).encode(), os.urandom(16), os.urandom(32)
    return 1000 * _median_seconds(lambda: stretch(code, salt, CODE_PARAMS, pepper), repeats)


def bench_blobs(size: int, repeats: int) -> dict[str, float]:
    """Return seconds for blob and raw AES-GCM encryption and decryption of ``size`` bytes."""
    plaintext = os.urandom(size)
    view = memoryview(plaintext)
    dek = os.urandom(32)
    header = os.urandom(HEADER_SIZE)
    raw = AESGCM(os.urandom(32))
    segments = [view[i : i + SEGMENT_SIZE] for i in range(0, size, SEGMENT_SIZE)]
    nonces = [i.to_bytes(12, "big") for i in range(len(segments))]

    def raw_encrypt() -> list[bytes]:
        return [raw.encrypt(n, s, header) for n, s in zip(nonces, segments, strict=True)]

    sealed = raw_encrypt()

    def raw_decrypt() -> list[bytes]:
        return [raw.decrypt(n, s, header) for n, s in zip(nonces, sealed, strict=True)]

    def blob_encrypt() -> list[bytes]:
        chunks = (view[i : i + CHUNK] for i in range(0, size, CHUNK))
        return list(
            encrypt_stream(
                dek, study_id=STUDY_ID, blob_id=BLOB_ID, kind=BlobKind.INSTANCE, chunks=chunks
            )
        )

    blob = memoryview(
        encrypt_bytes(dek, plaintext, study_id=STUDY_ID, blob_id=BLOB_ID, kind=BlobKind.INSTANCE)
    )

    def blob_decrypt() -> list[bytes]:
        reader = BlobReader(
            dek,
            study_id=STUDY_ID,
            blob_id=BLOB_ID,
            kind=BlobKind.INSTANCE,
            size=len(blob),
            read=lambda offset, length: blob[offset : offset + length],
        )
        return list(reader.iter_plaintext())

    assert b"".join(blob_decrypt()) == plaintext
    assert len(sealed[0]) == SEGMENT_SIZE + TAG_SIZE
    runs: dict[str, Callable[[], object]] = {
        "raw_encrypt": raw_encrypt,
        "blob_encrypt": blob_encrypt,
        "raw_decrypt": raw_decrypt,
        "blob_decrypt": blob_decrypt,
    }
    # Interleave ours and raw so a change in machine load hits both sides alike.
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            times[key].append(_median_seconds(run, 1))
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    """Run every benchmark and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64, help="blob plaintext size (MiB)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    args = parser.parse_args()

    login_ms = bench_login(args.repeats)
    activation_ms = bench_activation_code(args.repeats)
    access_ms = bench_access_code(args.repeats)
    size: int = args.size_mib * MIB
    seconds = bench_blobs(size, args.repeats)

    def mbps(key: str) -> float:
        return size / seconds[key] / 1e6

    print(f"hds.crypto benchmark ({os.cpu_count()} CPUs, median of {args.repeats})")
    print(f"{'measure':<44}{'value':>12}  {'vs raw':>7}")
    print("-" * 65)
    print(f"{'login (Argon2id 64 MiB t3 p4 + unwrap)':<44}{login_ms:>9.1f} ms")
    print(f"{'activation-code KEK (64 MiB t3 p4)':<44}{activation_ms:>9.1f} ms")
    print(f"{'access-code stretch (19 MiB t2 p1)':<44}{access_ms:>9.1f} ms")
    for op in ("encrypt", "decrypt"):
        ours, raw = mbps(f"blob_{op}"), mbps(f"raw_{op}")
        label = f"blob {op} {args.size_mib} MiB"
        print(f"{label:<44}{ours:>7.0f} MB/s  {ours / raw:>7.2f}")
        print(f"{'  raw AES-256-GCM, 64 KiB segments':<44}{raw:>7.0f} MB/s")


if __name__ == "__main__":
    main()
