"""CPU per DKIM signature of one outgoing message, in process: Préau's signer
(mailgate/dkim_signing.py: dkimpy's canonicalization, OpenSSL's RSA) beside dkimpy's own
`dkim.sign` (the same relaxed/relaxed rsa-sha256 signature, its RSA done in Python), in
alternating rounds of the same run. Each message is distinct (a personalised mailing signs
every copy), `--size` bytes of 76-column text, with a fresh 2048-bit key.

    .venv/bin/python bench/dkim_sign.py [--messages 200] [--rounds 3] [--size 10240]

Prints, per round and side, the median and p90 of `time.process_time` per signature (ms).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dkim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate.dkim_signing import SIGNED_HEADERS, Signer  # noqa: E402


def messages(count: int, size: int) -> list[bytes]:
    line = b"Bonjour, voici le programme de la sortie au mus\xc3\xa9e de jeudi prochain. \r\n"
    body = (line * (size // len(line) + 1))[:size]
    return [b"From: Claire Bernard <claire.bernard@ent.test>\r\nTo: parent%d@example.org\r\n"
            b"Subject: Sortie du jeudi\r\nDate: Sun, 29 Nov 2026 10:00:00 +0100\r\n"
            b"Message-ID: <%d@ent.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" % (n, n) + body
            for n in range(count)]


def cpu_ms(sign, batch: list[bytes]) -> list[float]:
    samples = []
    for message in batch:
        start = time.process_time()
        sign(message)
        samples.append((time.process_time() - start) * 1000)
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=10240)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        key = Path(folder) / "dkim.pem"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                       capture_output=True)
        pem = key.read_bytes()
        preau = Signer(str(key), "preau", "ent.test")
        sides = {
            "dkimpy dkim.sign": lambda data: dkim.sign(
                data, b"preau", b"ent.test", pem, canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=b"rsa-sha256", include_headers=list(SIGNED_HEADERS)),
            "preau Signer.sign": preau.sign,
        }
        batch = messages(args.messages, args.size)
        print(f"{args.messages} distinct messages of {args.size} B, 2048-bit RSA key")
        print(f"{'round':<6} {'side':<20} {'median ms':>10} {'p90 ms':>8}")
        for round_number in range(1, args.rounds + 1):
            for side, sign in sides.items():
                samples = cpu_ms(sign, batch)
                print(f"{round_number:<6} {side:<20} {statistics.median(samples):>10.2f} "
                      f"{samples[int(len(samples) * 0.9)]:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
