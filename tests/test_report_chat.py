"""/baocao in the chat, on the fixed data set of `tests/report_data.py` (Monday 05/10/2026):
a unit head goes straight to the period, an administrator first picks the unit; the answer
is the summary, the chart and the workbook. Forged buttons and other people's units are
refused. Last, the photo and the document arriving through the fake Telegram server."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import PIL.Image
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot import invites
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.messages import Attachment
from bot.settings import Settings
from storage import units
from storage.models import AuditEntry, Role, UnitKind
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import member, on_fake_telegram, serving
from tests.report_data import NOW, seed
from tests.talk import Chat, buttons_info
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REFUSED = "You may only see reports of your own unit and the units under it."


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        found = await units.by_code(db, code)
        assert found is not None and found.id is not None
        return found.id


@pytest.fixture
async def office(app: App, clock: ManualClock) -> dict[str, Chat]:
    clock.set(NOW.astimezone(UTC))
    await seed(app)
    people = {
        "head": await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id="hung"),
        "admin": await member(app, Role.admin, "DT", "Nguyễn Thị Lan", user_id="lan"),
        "staff": await member(app, Role.staff, "MYTHO", "Lê Văn Tám", user_id="tam2"),
    }
    for chat in people.values():
        await chat.press("lang:en")
    return people


def labels(chat: Chat) -> list[str]:
    return [o.label for out in chat.last for o in out.options]


def attachments(chat: Chat) -> list[Attachment]:
    return [a for out in chat.last for a in out.attachments]


async def test_a_head_chooses_a_period_and_gets_text_chart_and_workbook(
    app: App, office: dict[str, Chat],
) -> None:
    head = office["head"]
    mytho = await unit_id(app, "MYTHO")
    await head.say("/baocao")
    assert "Report of UBND phường Mỹ Tho, with the units under it: which period?" in head.text
    assert head.option_data() == [
        f"bcp:{mytho}:2026-10", f"bcp:{mytho}:2026-09", f"bcp:{mytho}:2026-Q4",
        f"bcp:{mytho}:2026-Q3", f"bcp:{mytho}:2026", f"bcp:{mytho}:2025",
        f"bck:{mytho}", f"bcl:{mytho}:0",
    ]
    assert labels(head)[:4] == ["This month (Month 10/2026)", "Last month (Month 9/2026)",
                                "This quarter (Quarter IV/2026)",
                                "Last quarter (Quarter III/2026)"]

    await head.say("4")  # the console's way of pressing the fourth option
    assert "Dossiers and satisfaction — UBND phường Mỹ Tho" in head.text
    assert "On time: 4 of 7 resolved (57.1 %) ❌ target above 96 % not met" in head.text
    assert "Ratings: 4 for 6 dossiers returned (response rate 66.7 %)" in head.text
    photo, document = attachments(head)
    assert (photo.kind, photo.filename, photo.mime_type) == ("photo", "baocao.png",
                                                             "image/png")
    assert photo.data is not None and PIL.Image.open(io.BytesIO(photo.data)).width == 1080
    assert (document.kind, document.filename, document.mime_type) == (
        "document", "baocao_MYTHO_2026-Q3.xlsx", XLSX)
    assert document.data is not None
    book = load_workbook(io.BytesIO(document.data))
    assert [row[0] for row in book["By unit"].iter_rows(min_row=2, values_only=True)] == [
        "MYTHO", "MYTHO-MC", "Total"]
    await _assert_audited(app, "unit:MYTHO", "2026-Q3")

    # A unit under theirs, by the button or by its code.
    await head.press(f"bcl:{mytho}:0")
    mc = await unit_id(app, "MYTHO-MC")
    assert head.option_data() == [f"bcu:{mytho}", f"bcu:{mc}"]
    await head.say("/baocao mytho-mc")
    assert "Report of Bộ phận Một cửa Mỹ Tho" in head.text
    await head.press(f"bcp:{mc}:2026-Q3")
    assert "On time: 2 of 5 resolved (40.0 %)" in head.text
    assert attachments(head)[1].filename == "baocao_MYTHO-MC_2026-Q3.xlsx"


async def _assert_audited(app: App, subject: str, period: str) -> None:
    async with app.services.sessions() as db:
        found = (await db.exec(select(AuditEntry).where(
            AuditEntry.action == "report_made"))).all()
    assert [(e.subject, e.detail) for e in found][-1] == (subject, {"period": period})


async def test_a_head_cannot_see_other_units(app: App, office: dict[str, Chat]) -> None:
    head = office["head"]
    caibe, dt = await unit_id(app, "CAIBE"), await unit_id(app, "DT")
    for forged in (f"bcp:{caibe}:2026-Q3", f"bcp:{dt}:2026-Q3", f"bcu:{caibe}",
                   f"bck:{caibe}", f"bcl:{caibe}:0", "bcl:0:0", "bcp:999999:2026",
                   "bcp:x:2026", "bcp"):
        await head.press(forged)
        assert head.text == REFUSED, forged
        assert attachments(head) == []
    await head.say("/baocao CAIBE")
    assert head.text == ("There is no unit with the code CAIBE that you may see reports of.")
    await head.say("/baocao NOPE")
    assert "There is no unit with the code NOPE" in head.text
    mytho = await unit_id(app, "MYTHO")
    await head.press(f"bcp:{mytho}:2026-Q5")
    assert head.text == "That period is not one I can report on. Please type /baocao again."


async def test_an_admin_chooses_the_unit_then_a_range_of_days(
    app: App, office: dict[str, Chat],
) -> None:
    admin = office["admin"]
    dt, caibe, mytho = [await unit_id(app, c) for c in ("DT", "CAIBE", "MYTHO")]
    await admin.say("/baocao")
    assert "Which unit's report?" in admin.text
    assert admin.option_data() == [f"bcu:{dt}", f"bcu:{caibe}", f"bcu:{mytho}"]
    assert labels(admin) == ["UBND tỉnh Đồng Tháp (all of it)", "UBND xã Cái Bè",
                             "UBND phường Mỹ Tho"]
    await admin.press(f"bcu:{caibe}")
    assert "Report of UBND xã Cái Bè" in admin.text
    assert f"bcl:{caibe}:0" not in admin.option_data()  # nothing under Cái Bè

    await admin.press(f"bck:{caibe}")
    assert "Type the first and the last day of the period, for example " \
           "01/01/2026-31/03/2026." in admin.text
    await admin.say("tháng tám")
    assert admin.text.startswith("Sorry, I could not read that period.")
    await admin.say("31/08/2026-01/08/2026")  # backwards
    assert admin.text.startswith("Sorry, I could not read that period.")
    await admin.say("01/08/2026-31/08/2026")
    # CB-01 on time, CB-02 late with an apology; R5 and R6 with overall 3 and 1.
    assert "On time: 1 of 2 resolved (50.0 %)" in admin.text
    assert "Late: 2" not in admin.text and "Late: 1 (with an apology letter: 1" in admin.text
    assert "Satisfied (overall question): 0.0 % (0 of 2 answers)" in admin.text
    assert attachments(admin)[1].filename == "baocao_CAIBE_2026-08-01_2026-08-31.xlsx"
    await admin.say("01/08/2026-31/08/2026")  # the conversation step is over
    assert "Dossiers and satisfaction" not in admin.text
    await admin.press(f"bck:{caibe}")
    await admin.press(f"bcu:{mytho}")  # another unit instead: no range is awaited any more
    await admin.say("01/08/2026-31/08/2026")
    assert "Dossiers and satisfaction" not in admin.text

    # Any unit by its code; a period with nothing in it says so, without files.
    await admin.say("/baocao CAIBE")
    await admin.press(f"bcp:{caibe}:2025")
    assert admin.text == ("UBND xã Cái Bè, Year 2025: no dossier was resolved, returned or "
                          "overdue and no citizen rated in this period.")
    assert attachments(admin) == [] and admin.option_data() == [f"bcu:{caibe}"]


async def test_many_units_come_page_by_page(app: App, office: dict[str, Chat]) -> None:
    async with app.services.sessions() as db:
        dt = await units.by_code(db, "DT")
        for n in range(10):
            await units.add(db, f"XA{n:02d}", f"UBND xã số {n}", UnitKind.commune, dt,
                            app.services.clock.now())
        await db.commit()
    admin = office["admin"]
    dt_id = await unit_id(app, "DT")
    await admin.say("/baocao")
    # DT itself and 12 communes and wards: 8 a page.
    first = admin.option_data()
    assert labels(admin)[1:4] == ["UBND xã Cái Bè", "UBND phường Mỹ Tho", "UBND xã số 0"]
    assert len(first) == 9 and first[0] == f"bcu:{dt_id}" and first[-1] == f"bcl:{dt_id}:1"
    await admin.press(f"bcl:{dt_id}:1")
    second = admin.option_data()
    assert len(second) == 6 and second[-1] == f"bcl:{dt_id}:0"
    # Sorted by code: CAIBE, MYTHO, XA00… after DT.
    assert labels(admin) == [f"UBND xã số {n}" for n in range(5, 10)] + ["‹ Previous"]
    assert not set(first[:8]) & set(second[:5])


async def test_an_admin_without_a_unit_starts_at_the_top(app: App, clock: ManualClock) -> None:
    clock.set(NOW.astimezone(UTC))
    await seed(app)
    # An administrator invited without a unit: the top of the tree and the units under it.
    async with app.services.sessions() as db:
        payload, _ = await invites.create(db, role=Role.admin, unit=None, name="Quản trị",
                                          created_by=None, now=clock.now(),
                                          ttl=timedelta(days=1))
        await db.commit()
    admin = Chat(app, "root-admin")
    await admin.say(f"/start {payload}")
    await admin.press("lang:en")
    await admin.say("/baocao")
    assert admin.option_data() == [f"bcu:{await unit_id(app, code)}"
                                   for code in ("DT", "CAIBE", "MYTHO")]


@pytest.mark.parametrize("command", ["/baocao", "/report"])
async def test_staff_and_citizens_are_refused(app: App, office: dict[str, Chat],
                                              command: str) -> None:
    await office["staff"].say(command)
    assert office["staff"].text.startswith(
        "Sorry, this is only available to administrators, unit heads.")
    citizen = Chat(app, "citizen-9")
    await citizen.say("/start")
    await citizen.press(f"bcp:{await unit_id(app, 'MYTHO')}:2026-Q3")
    assert "chỉ dành cho" in citizen.text and attachments(citizen) == []


# -- through Telegram ----------------------------------------------------------------------

HEAD_CHAT = 330001


@pytest.fixture
async def on_telegram(settings: Settings, clock: ManualClock,
                      fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    app = build_app(on_fake_telegram(settings, fake_telegram, PORT=free_port()), clock)
    clock.set(NOW.astimezone(UTC))
    await seed(app)
    await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id=str(HEAD_CHAT),
                 info=buttons_info())
    async with serving(app, fake_telegram):
        yield app


async def test_the_chart_and_the_workbook_arrive_on_telegram(
    on_telegram: App, fake_telegram: FakeTelegramServer,
) -> None:
    mytho = await unit_id(on_telegram, "MYTHO")
    fake_telegram.push_command(HEAD_CHAT, "baocao")
    [asked] = await fake_telegram.wait_for("sendMessage", chat_id=HEAD_CHAT)
    buttons = [b["callback_data"] for row in asked.params["reply_markup"]["inline_keyboard"]
               for b in row]
    assert f"bcp:{mytho}:2026-Q3" in buttons
    fake_telegram.push_callback(HEAD_CHAT, f"bcp:{mytho}:2026-Q3")
    [photo] = await fake_telegram.wait_for("sendPhoto", chat_id=HEAD_CHAT)
    [document] = await fake_telegram.wait_for("sendDocument", chat_id=HEAD_CHAT)
    texts = await fake_telegram.wait_for("sendMessage", 2, chat_id=HEAD_CHAT)
    assert photo.ok and document.ok
    png = photo.params["photo"]
    assert png.content.startswith(b"\x89PNG") and \
        PIL.Image.open(io.BytesIO(png.content)).size[0] == 1080
    sheet = document.params["document"]
    assert sheet.filename == "baocao_MYTHO_2026-Q3.xlsx"
    assert load_workbook(io.BytesIO(sheet.content)).sheetnames[0]
    summary = texts[-1].params["text"]
    assert "UBND phường Mỹ Tho" in summary and "57,1 %" in summary
