"""The fake Bot API server in a process of its own, so that a benchmark's client gets a CPU
core to itself. Prints its base URL on the first line, then serves until killed.

    python -m bench.fake_telegram_process TOKEN
"""

from __future__ import annotations

import asyncio
import sys

from tests.fakes import FakeTelegramServer


async def serve(token: str) -> None:
    async with FakeTelegramServer(token=token, spec=None) as fake:
        print(fake.base_url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
