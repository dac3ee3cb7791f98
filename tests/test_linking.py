"""One person on several apps: /lienket gives a one-time code; sent from another app (as
`/start CODE`, or just the code, since Zalo has no deep links) it joins that chat to the
person. A chat that already belongs to someone is never taken over."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from bot.routing import ChannelInfo
from bot.settings import Settings, load_settings
from storage import accounts
from storage.models import ChannelAccount, Role
from tests.dossier_helpers import upsert
from tests.helpers import add_units, member
from tests.talk import Chat, buttons_info


def zalo_info() -> ChannelInfo:
    return ChannelInfo("zalo_bot", False, lambda payload: f"/start {payload}")


async def _account(app: App, channel: str, user_id: str) -> ChannelAccount:
    async with app.services.sessions() as db:
        found = await accounts.find(db, channel, user_id)
        assert found is not None
        return found


def _code(chat: Chat) -> str:
    match = re.search(r"/start (i-[A-Za-z0-9_-]+)", chat.text)
    assert match, chat.text
    return match.group(1)


async def test_a_civil_servant_links_zalo_to_their_telegram_person(app: App) -> None:
    await add_units(app)
    telegram = await member(app, Role.staff, name="Lê Minh Tâm", user_id="501",
                            info=buttons_info())
    await telegram.say("/lienket")
    assert "/start i-" in telegram.text and "Telegram" in telegram.text
    code = _code(telegram)

    zalo = Chat(app, "zalo-501", info=zalo_info(), name="Tâm")
    await zalo.say(code)  # the bare code, as typed on Zalo
    assert "Your account is now linked" in zalo.text or "liên kết" in zalo.text
    assert "Lê Minh Tâm" in zalo.text  # greeted as the civil servant, not a citizen

    on_telegram = await _account(app, "telegram", "501")
    on_zalo = await _account(app, "zalo_bot", "zalo-501")
    assert on_zalo.person_id == on_telegram.person_id
    await zalo.say("/help")
    assert "/lienket" in zalo.text

    # The code worked once.
    other = Chat(app, "zalo-999", info=zalo_info())
    await other.say(f"/start {code}")
    assert (await _account(app, "zalo_bot", "zalo-999")).person_id != on_telegram.person_id


async def test_a_chat_that_belongs_to_someone_is_not_taken_over(app: App) -> None:
    await add_units(app)
    tam = await member(app, Role.staff, name="Lê Minh Tâm", user_id="601", info=buttons_info())
    head = await member(app, Role.unit_head, name="Trần Văn Hùng", user_id="602",
                        info=buttons_info())
    await tam.say("/lienket")
    await head.say(f"/start {_code(tam)}")
    assert "already belongs to someone" in head.text or "đã thuộc về" in head.text
    head_account = await _account(app, "telegram", "602")
    tam_account = await _account(app, "telegram", "601")
    assert head_account.person_id != tam_account.person_id
    async with app.services.sessions() as db:
        person = await accounts.person(db, head_account.person_id)
    assert person.role == Role.unit_head


async def test_an_expired_or_forged_code_changes_nothing(app: App) -> None:
    await add_units(app)
    tam = await member(app, Role.staff, name="Lê Minh Tâm", user_id="701", info=buttons_info())
    await tam.say("/lienket")
    code = _code(tam)
    app.services.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]
    zalo = Chat(app, "zalo-701", info=zalo_info())
    await zalo.say(code)
    assert "expired" in zalo.text or "hết hạn" in zalo.text
    await zalo.say("i-" + "A" * 24)
    assert "not valid" in zalo.text or "không hợp lệ" in zalo.text
    async with app.services.sessions() as db:
        rows = (await db.exec(select(ChannelAccount).where(
            ChannelAccount.channel == "zalo_bot"))).all()
    staff = (await _account(app, "telegram", "701")).person_id
    assert rows and all(r.person_id != staff for r in rows)


async def test_a_slip_code_typed_alone_follows_the_dossier(app: App) -> None:
    """`d_<token>` sent as a message means what the QR slip's link means."""
    await add_units(app)
    now = app.services.clock.now()
    dossier = await upsert(app, DossierInput(
        code="000.00.25.H20-261125-0099", procedure_name="Đăng ký khai sinh",
        citizen_name="Nguyễn Thị Hoa", citizen_phone="0912 345 678",
        received_at=now - timedelta(days=1), due_at=now + timedelta(days=5)))
    citizen = Chat(app, "zalo-citizen", info=zalo_info())
    await citizen.say(f"d_{dossier.access_token}")
    assert "000.00.25.H20-261125-0099" in citizen.text


async def test_an_invite_made_on_telegram_also_says_how_to_use_it_on_zalo(
        settings: Settings, clock: ManualClock) -> None:
    app = build_app(load_settings(**{**settings.model_dump(),
                                     "ZALO_BOT_TOKEN": "1459232241454765289:abc-xyz12"},
                                  _env_file=None), clock)
    try:
        await add_units(app)
        admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan", user_id="801",
                             info=buttons_info())
        await admin.say("/moi")
        await admin.press("inv-role:staff")
        await admin.press("inv-unit:staff:MYTHO")
        await admin.say("Phạm Văn Đức")
        link = re.search(r"https://t.me/test_bot\?start=(i-[A-Za-z0-9_-]+)", admin.text)
        assert link, admin.text
        assert f"/start {link.group(1)}" in admin.text  # the Zalo form of the same invite
        zalo = Chat(app, "zalo-802", info=zalo_info())
        await zalo.say(f"/start {link.group(1)}")
        assert "Phạm Văn Đức" in zalo.text
    finally:
        await app.close()
