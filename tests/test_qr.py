"""The QR slip: the PNG decodes (with a real QR reader) to the dossier's deep link, and
`hanchot qr` writes it, asking Telegram for the bot's username when it is not configured."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import PIL.Image
import zxingcpp

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers import qr, service
from bot.dossiers.service import DossierInput
from bot.settings import load_settings
from storage import db as storage_db
from storage import units
from storage.dossiers import Dossier
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units
from tests.test_cli import run

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HANCHOT = str(Path(sys.executable).parent / "hanchot")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "H20.26-0042"
INSTRUCTION = "Quét mã để theo dõi hồ sơ qua Telegram"


def decoded(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png)))]


async def new_dossier(app: App, code: str = CODE) -> Dossier:
    await add_units(app)
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        outcome = await service.upsert(app.services, db, mytho, DossierInput(
            code=code, procedure_name="Đăng ký thường trú", citizen_phone="0912 345 678",
            received_at=datetime(2026, 11, 25, 9, tzinfo=HCM), period_days=5,
        ), source="test")
        await db.commit()
        return outcome.dossier


async def test_the_slip_holds_the_deep_link_of_the_dossier(app: App) -> None:
    dossier = await new_dossier(app)
    link = f"https://t.me/hanchot_bot?start={service.deep_link_payload(dossier)}"
    png = qr.slip_png(link, dossier.code, INSTRUCTION)
    assert decoded(png) == [link]
    image = PIL.Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width >= 600 and image.height > image.width


def test_text_without_a_font_for_it_stays_readable() -> None:
    # Pillow's own font has no Vietnamese letters: accents are dropped rather than boxed.
    assert qr.strip_diacritics("Quét mã để theo dõi hồ sơ, ĐƯỜNG") == \
        "Quet ma de theo doi ho so, DUONG"
    assert not qr.covers(qr.ImageFont.load_default(size=20), "ạ")
    # A long instruction shrinks to fit the slip instead of being cut.
    png = qr.slip_png("https://t.me/b?start=d_x", "C-1", "Quét mã " * 20)
    assert decoded(png) == ["https://t.me/b?start=d_x"]


def _seed(tmp_path: Path) -> str:
    """A migrated database file with one dossier; returns its deep-link payload."""
    async def go() -> str:
        settings = load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
                                 _env_file=None)
        app = build_app(settings, ManualClock(datetime(2026, 11, 25, 2, tzinfo=UTC)))
        try:
            await storage_db.migrate(app.engine)
            return service.deep_link_payload(await new_dossier(app))
        finally:
            await app.close()

    return asyncio.run(go())


def test_cli_writes_the_slip_and_prints_the_link(tmp_path: Path) -> None:
    payload = _seed(tmp_path)
    made = run(["qr", CODE, "--out", "slip.png"], tmp_path,
               TELEGRAM_BOT_USERNAME="@hanchot_bot")
    assert made.returncode == 0, made.stderr
    link = f"https://t.me/hanchot_bot?start={payload}"
    assert link in made.stdout
    assert decoded((tmp_path / "slip.png").read_bytes()) == [link]
    # Typed in small letters, the code still finds the dossier.
    again = run(["qr", CODE.lower()], tmp_path, TELEGRAM_BOT_USERNAME="hanchot_bot")
    assert again.returncode == 0, again.stderr
    assert decoded((tmp_path / f"qr-{CODE}.png").read_bytes()) == [link]


def test_cli_refuses_an_unknown_code_or_a_missing_username(tmp_path: Path) -> None:
    _seed(tmp_path)
    unknown = run(["qr", "H99-0000", "--out", "x.png"], tmp_path,
                  TELEGRAM_BOT_USERNAME="hanchot_bot")
    assert unknown.returncode == 2
    assert "No dossier has the code 'H99-0000'" in unknown.stderr
    assert not (tmp_path / "x.png").exists()
    nameless = run(["qr", CODE, "--out", "x.png"], tmp_path, TELEGRAM_BOT_USERNAME="")
    assert nameless.returncode == 2 and "set TELEGRAM_BOT_USERNAME" in nameless.stderr
    assert not (tmp_path / "x.png").exists()
    assert "Traceback" not in unknown.stderr + nameless.stderr


async def test_cli_asks_telegram_for_the_username(
    tmp_path: Path, fake_telegram: FakeTelegramServer,
) -> None:
    payload = await asyncio.to_thread(_seed, tmp_path)
    environ = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_USERNAME"}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
                   TELEGRAM_BOT_TOKEN=TEST_TOKEN, TELEGRAM_API_BASE=fake_telegram.base_url)
    process = await asyncio.create_subprocess_exec(
        HANCHOT, "qr", CODE, "--out", "slip.png", cwd=tmp_path, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    link = f"https://t.me/hanchot_test_bot?start={payload}"
    assert link in stdout.decode()
    assert decoded((tmp_path / "slip.png").read_bytes()) == [link]
    assert fake_telegram.matching("getMe")


def test_with_zalo_the_slip_carries_the_code_to_send_there(tmp_path: Path) -> None:
    payload = _seed(tmp_path)
    both = run(["qr", CODE, "--out", "both.png"], tmp_path,
               TELEGRAM_BOT_USERNAME="hanchot_bot", ZALO_BOT_TOKEN="1459232241454765289:abc-xyz12")
    assert both.returncode == 0, both.stderr
    assert f"Zalo: {payload}" in both.stdout
    # The QR still opens Telegram; the Zalo code is printed under it.
    assert decoded((tmp_path / "both.png").read_bytes()) == [
        f"https://t.me/hanchot_bot?start={payload}"]
    only = run(["qr", CODE, "--out", "zalo.png"], tmp_path, TELEGRAM_BOT_USERNAME="",
               ZALO_BOT_TOKEN="1459232241454765289:abc-xyz12")
    assert only.returncode == 0, only.stderr
    # Zalo's scanner shows the text of the code, which the citizen sends to the bot.
    assert decoded((tmp_path / "zalo.png").read_bytes()) == [payload]
