"""Runs every benchmark in turn; each prints its own figures."""

from __future__ import annotations

import os
import subprocess
import sys

BENCHES = [["bench.dispatch"], ["bench.dispatch", "--concurrency", "8"]]


def main() -> None:
    pg = os.environ.get("BENCH_DATABASE_URL", "")
    runs = BENCHES + ([[*b, "--database-url", pg] for b in BENCHES] if pg else [])
    for args in runs:
        subprocess.run([sys.executable, "-m", *args], check=True)


if __name__ == "__main__":
    main()
