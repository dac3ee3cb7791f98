"""Runs every benchmark in turn; each prints its own figures. `make bench`.

Set BENCH_DATABASE_URL=postgresql://… to run the database-bound ones on PostgreSQL too
(each uses a scratch database on that server, created and dropped by the benchmark)."""

from __future__ import annotations

import os
import subprocess
import sys

DATABASE_BOUND = [
    ["bench.dispatch"],
    ["bench.dispatch", "--concurrency", "8"],
    ["bench.outbox", "speed"],
    ["bench.outbox", "claim"],
    ["bench.broadcast"],
    ["bench.zalo"],
]
ONCE = [["bench.outbox", "limits"], ["bench.faq_eval"]]


def main() -> None:
    pg = os.environ.get("BENCH_DATABASE_URL", "")
    runs = DATABASE_BOUND + ([[*b, "--database-url", pg] for b in DATABASE_BOUND] if pg else [])
    for args in runs + ONCE:
        subprocess.run([sys.executable, "-m", *args], check=True)


if __name__ == "__main__":
    main()
