"""/thongbao in the chat: an administrator composes (text, link button, document), chooses
the recipients, previews exactly what they will get with their number, sends now or at a
time typed in words, stops one, reads the history and the workbook of those not reached.
A unit head stays inside their own unit; forged buttons change nothing; staff and citizens
are refused. The sending itself runs through the outbox on a console channel."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.app import App, build_outbox_dispatcher
from bot.broadcasts import workbook
from bot.broadcasts.monitor import BroadcastMonitor
from bot.channels.console import ConsoleChannel
from bot.clock import ManualClock
from bot.messages import Attachment
from storage import accounts, audit, conversations, units
from storage import broadcasts as store
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.models import Person, Role, UnitKind
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat, buttons_info

PDF = b"%PDF-1.4\n% lich hop\n" + bytes(range(256))
URL = "https://dichvucong.gov.vn"
OUTSIDE = ("You may send announcements only to the staff of your own unit and the units "
           "under it.")
STALE = "This draft is no longer open"
PHONE = "0912345678"
CITIZEN_NAME = "Nguyễn Thị Hoa"


@pytest.fixture
async def people(app: App, clock: ManualClock) -> dict[str, Chat]:
    # Tuesday 24/11/2026, 08:00 in Vietnam: daytime, citizens may be written to.
    clock.set(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    await add_units(app)
    chats = {
        "admin": await member(app, Role.admin, "DT", "Quản trị Tỉnh", user_id="admin"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trưởng Mỹ Tho", user_id="head"),
        "staff": await member(app, Role.staff, "MYTHO-MC", "Cán bộ Một cửa", user_id="mc"),
        "caibe": await member(app, Role.staff, "CAIBE", "Cán bộ Cái Bè", user_id="caibe"),
        "citizen": Chat(app, "citizen", name="Hoa"),
        "quiet": Chat(app, "quiet", name="Bình"),
    }
    for key in ("admin", "head"):
        await chats[key].press("lang:en")
    await chats["citizen"].say("/start")
    await chats["citizen"].say("/nhantin")
    await chats["quiet"].say("/start")  # a citizen who did not opt in
    async with app.services.sessions() as db:
        account = await accounts.find(db, "console", "citizen")
        assert account is not None
        person = await db.get(Person, account.person_id)
        assert person is not None
        person.name, person.phone = CITIZEN_NAME, PHONE
        db.add(person)
        await db.commit()
    return chats


# -- helpers --------------------------------------------------------------------------------

def nonce(chat: Chat) -> str:
    for data in chat.option_data():
        if data.split(":")[0] in {"tbe", "tba", "tbs", "tbk", "tbq", "tbl", "tbu", "tbr"}:
            return data.split(":")[1]
    raise AssertionError(f"no draft option in {chat.option_data()}")


async def compose(chat: Chat, text: str, **extra: Any) -> str:
    await chat.say("/thongbao")
    assert {"tbn", "tbh"} <= set(chat.option_data())
    await chat.press("tbn")
    await chat.say(text, **extra)
    return nonce(chat)


async def state_of(app: App, chat: Chat) -> tuple[str | None, dict[str, Any]]:
    async with app.services.sessions() as db:
        row = await conversations.load(db, chat.info.name, chat.user_id)
    if row is None:
        return None, {}
    # The numbers offered on the console are the dispatcher's, not the draft's.
    return row.state, {k: v for k, v in row.data.items() if k != "_options"}


async def broadcasts(app: App) -> list[Broadcast]:
    async with app.services.sessions() as db:
        return list(reversed(await store.recent(db, None, limit=100)))


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        unit = await units.by_code(db, code)
    assert unit is not None and unit.id is not None
    return unit.id


async def account_id(app: App, chat: Chat) -> int:
    async with app.services.sessions() as db:
        account = await accounts.find(db, chat.info.name, chat.user_id)
    assert account is not None and account.id is not None
    return account.id


async def deliver(app: App) -> str:
    """Everything queued, sent on a console; the monitor closes the broadcasts and the
    reports go out. What the console printed."""
    printed = io.StringIO()
    console = ConsoleChannel(app.services.translations, "admin", out=printed)
    dispatcher = build_outbox_dispatcher(app, {"console": console})
    monitor = BroadcastMonitor(app.services, {"console": console}, dispatcher.limiters)
    await monitor.tick()  # starts what is due
    await dispatcher.drain()
    await monitor.tick()  # closes what is settled and queues the reports
    await dispatcher.drain()
    await dispatcher.stop()
    return printed.getvalue()


def summary_count(chat: Chat) -> int:
    found = re.search(r"— (\d+) (?:person|people)\.", chat.last[-1].text)
    assert found, chat.last[-1].text
    return int(found[1])


# -- the administrator ------------------------------------------------------------------------

async def test_admin_sends_to_staff_with_a_button_and_a_document(
    app: App, people: dict[str, Chat]
) -> None:
    admin = people["admin"]
    document = Attachment("document", "lich-hop.pdf", "application/pdf", data=PDF,
                          size=len(PDF))
    draft = await compose(admin, "Họp giao ban <b>8:00</b> thứ Hai", attachment=document)
    state, data = await state_of(app, admin)
    assert state == "broadcast:choose" and data["file"]["name"] == "lich-hop.pdf"
    assert f"tbe:{draft}:nofile" in admin.option_data()

    await admin.press(f"tbe:{draft}:btn")
    await admin.say("Nộp hồ sơ | javascript:alert(1)")
    assert "http:// or https://" in admin.text
    assert (await state_of(app, admin))[0] == "broadcast:button"
    await admin.say(f"Nộp hồ sơ trực tuyến | {URL}")
    assert f"tbe:{draft}:nobtn" in admin.option_data()

    await admin.press(f"tbe:{draft}:aud")
    assert f"tba:{draft}:cit" in admin.option_data()
    await admin.press(f"tba:{draft}:staff")
    shown, summary = admin.last
    # Exactly what recipients get: the unit's heading, the text, the button, the file.
    assert shown.text == "📢 <b>Announcement from UBND tỉnh Đồng Tháp</b>\n\n" \
        "Họp giao ban <b>8:00</b> thứ Hai"
    assert [(o.label, o.url) for o in shown.options] == [("Nộp hồ sơ trực tuyến", URL)]
    [attached] = shown.attachments
    assert (attached.kind, attached.filename, attached.data) == ("document", "lich-hop.pdf", PDF)
    assert summary_count(admin) == 4 and "all staff" in summary.text
    assert f"tbs:{draft}" in admin.option_data()
    assert await broadcasts(app) == []  # a preview creates nothing

    await admin.press(f"tbs:{draft}")
    [sent] = await broadcasts(app)
    assert sent.status == BroadcastStatus.sending and sent.total == 4
    assert (sent.button_label, sent.button_url) == ("Nộp hồ sơ trực tuyến", URL)
    assert (sent.attachment_kind, sent.attachment_name, sent.attachment_data) == (
        "document", "lich-hop.pdf", PDF)
    assert sent.source == "chat" and sent.sender_account_id == await account_id(app, admin)
    assert sent.unit_id == await unit_id(app, "DT")
    assert f"#{sent.id}" in admin.text and (await state_of(app, admin))[0] is None

    # An old "Send now" pressed again does nothing.
    await admin.press(f"tbs:{draft}")
    assert STALE in admin.text and len(await broadcasts(app)) == 1

    printed = await deliver(app)
    assert printed.count("Họp giao ban 8:00 thứ Hai") == 4
    assert printed.count(f"🔗 Nộp hồ sơ trực tuyến: {URL}") == 4
    async with app.services.sessions() as db:
        done = await store.get(db, sent.id or 0)
    assert done is not None and (done.status, done.sent) == (BroadcastStatus.done, 4)
    assert "Delivered: 4" in printed  # the sender's report, in the sender's language


async def test_admin_sends_to_citizens_who_opted_in(app: App, people: dict[str, Chat]) -> None:
    admin = people["admin"]
    draft = await compose(admin, "Từ 01/12, nộp hồ sơ trực tuyến được giảm 50% lệ phí.")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:cit")
    assert admin.option_data()[:2] == [f"tbc:{draft}", f"tbl:{draft}:c:0:0"]
    await admin.press(f"tbc:{draft}")
    assert summary_count(admin) == 1  # the one who opted in, not the other citizen
    await admin.press(f"tbs:{draft}")
    [sent] = await broadcasts(app)
    rows = await outbox_rows(app, subject=f"broadcast:{sent.id}")
    assert [(r.account_id, r.kind) for r in rows] == [
        (await account_id(app, people["citizen"]), "broadcast.citizen")]
    printed = await deliver(app)
    assert "giảm 50% lệ phí" in printed


async def test_citizens_with_a_dossier_at_a_unit(app: App, people: dict[str, Chat]) -> None:
    admin = people["admin"]
    mytho = await unit_id(app, "MYTHO")
    draft = await compose(admin, "Lịch tiếp dân")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:cit")
    await admin.press(f"tbl:{draft}:c:0:0")
    await admin.press(f"tbl:{draft}:c:{mytho}:0")
    await admin.press(f"tbu:{draft}:c:{mytho}")
    assert admin.option_data()[:4] == [f"tbd:{draft}:{mytho}:{days}" for days in (30, 90, 365, 0)]
    await admin.press(f"tbd:{draft}:{mytho}:90")
    # No citizen holds a dossier there: said so, and no way to send.
    assert "nobody would receive it" in admin.text
    assert not [d for d in admin.option_data() if d.startswith(("tbs:", "tbw:"))]
    _, data = await state_of(app, admin)
    assert data["audience"] == {"kind": "citizens", "unit_id": mytho, "days": 90}
    await admin.press(f"tbs:{draft}")  # forged: refused
    assert await broadcasts(app) == []


async def test_schedule_echo_history_and_stop(app: App, people: dict[str, Chat],
                                              clock: ManualClock) -> None:
    admin = people["admin"]
    draft = await compose(admin, "Kiểm tra công vụ")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:role")
    await admin.press(f"tbr:{draft}:unit_head")
    assert summary_count(admin) == 1
    await admin.press(f"tbw:{draft}")
    await admin.say("khi nào rảnh")
    assert "could not read that time" in admin.text
    assert (await state_of(app, admin))[0] == "broadcast:when"
    await admin.say("7h30 sáng mai")
    tomorrow = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert f"tbk:{draft}:{int(tomorrow.timestamp())}" in admin.option_data()
    assert "07:30 Wednesday, 25/11/2026" in admin.text
    # Changed one's mind: another time typed replaces it; the old confirmation is stale.
    await admin.say("thứ hai 8h")
    monday = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert "08:00 Monday, 30/11/2026" in admin.text
    await admin.press(f"tbk:{draft}:{int(tomorrow.timestamp())}")
    assert STALE in admin.text and await broadcasts(app) == []
    await admin.press(f"tbk:{draft}:{int(monday.timestamp())}")
    [scheduled] = await broadcasts(app)
    assert (scheduled.status, scheduled.send_at) == (BroadcastStatus.scheduled, monday)
    assert f"bcx:{scheduled.id}" in admin.option_data()
    assert await outbox_rows(app, subject=f"broadcast:{scheduled.id}") == []

    # Another one, for tomorrow morning, is started by the monitor when it falls due.
    draft = await compose(admin, "Nhắc lịch họp")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:staff")
    await admin.press(f"tbw:{draft}")
    await admin.say("07:30 ngay mai")
    await admin.press(f"tbk:{draft}:{int(tomorrow.timestamp())}")
    second = (await broadcasts(app))[-1]

    await admin.say("/thongbao")
    assert {f"bcx:{scheduled.id}", f"bcx:{second.id}"} <= set(admin.option_data())
    await admin.press(f"bcx:{scheduled.id}")
    assert "will not be sent" in admin.text
    await admin.press(f"bcx:{scheduled.id}")
    assert "already stopped" in admin.text

    clock.set(tomorrow + timedelta(minutes=1))
    printed = await deliver(app)
    assert printed.count("Nhắc lịch họp") == 4 and "Kiểm tra công vụ" not in printed
    await admin.press(f"bcx:{second.id}")
    assert "already been sent" in admin.text

    await admin.press("tbh")
    lines = admin.text.splitlines()
    assert any(line.startswith(f"#{second.id} · 07:30 25/11/2026 · all staff · sent · 4/4")
               for line in lines), lines
    assert any(line.startswith(f"#{scheduled.id} · 08:00 30/11/2026") and "stopped" in line
               for line in lines), lines


async def test_stop_while_sending_and_the_workbook_of_those_not_reached(
    app: App, people: dict[str, Chat]
) -> None:
    admin, head = people["admin"], people["head"]
    draft = await compose(admin, "Thông báo khẩn")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:staff")
    await admin.press(f"tbs:{draft}")
    [first] = await broadcasts(app)
    await head.press(f"bcx:{first.id}")  # not the sender, not an administrator
    assert "Only the person who sent" in head.text
    await admin.press(f"bcx:{first.id}")
    assert "nothing more will be sent" in admin.text
    rows = await outbox_rows(app, subject=f"broadcast:{first.id}")
    assert {r.status for r in rows} == {"cancelled"}
    printed = await deliver(app)
    assert "Thông báo khẩn" not in printed
    async with app.services.sessions() as db:
        stopped = await store.get(db, first.id or 0)
    assert stopped is not None and stopped.status == BroadcastStatus.cancelled
    assert stopped.skipped == 4 and stopped.finished_at is not None

    # One to everyone on staff and one to citizens; two chats are gone before delivery.
    draft = await compose(admin, "Lần hai")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:staff")
    await admin.press(f"tbs:{draft}")
    draft = await compose(admin, "Cho người dân")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:cit")
    await admin.press(f"tbc:{draft}")
    await admin.press(f"tbs:{draft}")
    _, to_staff, to_citizens = await broadcasts(app)
    gone = [await account_id(app, people["caibe"]), await account_id(app, people["citizen"])]
    async with app.services.sessions() as db:
        for account in gone:
            await accounts.deactivate(db, account, app.services.clock.now())
        await db.commit()
    await deliver(app)
    async with app.services.sessions() as db:
        finished = await store.get(db, to_staff.id or 0)
    assert finished is not None and (finished.sent, finished.blocked) == (3, 1)

    await admin.press("tbh")  # the workbooks are offered from the history too
    assert {f"bcf:{to_staff.id}", f"bcf:{to_citizens.id}"} <= set(admin.option_data())
    assert f"bcf:{first.id}" not in admin.option_data()
    await head.press(f"bcf:{to_staff.id}")
    assert "Only the person who sent" in head.text and not head.last[0].attachments
    await admin.press(f"bcf:{to_staff.id}")
    [sheet_file] = admin.last[0].attachments
    assert sheet_file.mime_type == workbook.MIME
    book = load_workbook(io.BytesIO(sheet_file.data or b""))
    sheet = book.active
    assert sheet is not None
    rows_seen = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows_seen == [
        ["No.", "Recipient", "Unit", "Channel", "Result", "Error detail"],
        [1, "Cán bộ Cái Bè", "UBND xã Cái Bè", "Console", "Blocked the bot",
         "recipient inactive"],
    ]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet.column_dimensions["B"].width >= 20

    await admin.press(f"bcf:{to_citizens.id}")
    [sheet_file] = admin.last[0].attachments
    sheet = load_workbook(io.BytesIO(sheet_file.data or b"")).active
    assert sheet is not None
    [header, row] = [[c.value for c in r] for r in sheet.iter_rows()]
    assert row[0] == 1 and row[1] == f"Citizen #{gone[1]}" and row[2] in ("", None)
    cells = " ".join(str(c.value) for r in sheet.iter_rows() for c in r)
    assert PHONE not in cells and "Hoa" not in cells and CITIZEN_NAME not in cells

    await admin.press(f"bcf:{first.id}")  # stopped before anyone failed
    assert "Every recipient" in admin.text and not admin.last[0].attachments


def test_workbook_names_staff_and_never_citizens() -> None:
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from bot.i18n import Translations

    t = Translations(ZoneInfo("Asia/Ho_Chi_Minh"), "vi", base=Path("/nonexistent")).get("en")
    data = workbook.render(t, [
        workbook.NotReached(7, "Lê Văn A", "UBND xã Cái Bè", "telegram", True, "blocked"),
        workbook.NotReached(9, None, "", "zalo", False, "Bad Request: chat … not found"),
    ], 3)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [[c.value for c in r] for r in sheet.iter_rows(min_row=2)] == [
        [1, "Lê Văn A", "UBND xã Cái Bè", "Telegram", "Blocked the bot", "blocked"],
        [2, "Citizen #9", None, "Zalo", "Error", "Bad Request: chat … not found"],
    ]


# -- limits -------------------------------------------------------------------------------------

async def test_a_unit_head_stays_inside_their_unit(app: App, people: dict[str, Chat]) -> None:
    head = people["head"]
    mytho, office, caibe = (await unit_id(app, "MYTHO"), await unit_id(app, "MYTHO-MC"),
                            await unit_id(app, "CAIBE"))
    dt = await unit_id(app, "DT")
    draft = await compose(head, "Họp chi bộ")
    await head.press(f"tbe:{draft}:aud")
    assert not [d for d in head.option_data() if d.endswith(":cit")]
    await head.press(f"tba:{draft}:unit")
    assert head.option_data()[:2] == [f"tbu:{draft}:u:{mytho}", f"tbu:{draft}:u:{office}"]
    before = await state_of(app, head)
    for forged in (f"tbu:{draft}:u:{caibe}", f"tbl:{draft}:u:{dt}:0", f"tba:{draft}:cit",
                   f"tbc:{draft}", f"tbd:{draft}:{mytho}:30", f"tbl:{draft}:c:0:0",
                   f"tbu:{draft}:c:{mytho}", f"tbu:{draft}:u:999999"):
        await head.press(forged)
        assert OUTSIDE in head.text, forged
        assert await state_of(app, head) == before, forged
    await head.press(f"tba:{draft}:staff")
    assert summary_count(head) == 2  # the head and the one-stop desk, not Cái Bè
    await head.press(f"tbs:{draft}")
    [sent] = await broadcasts(app)
    assert sent.total == 2 and sent.unit_id == mytho
    assert sent.audience["reach"] == {"within": mytho, "citizens": False}


async def test_staff_and_citizens_are_refused(app: App, people: dict[str, Chat]) -> None:
    admin = people["admin"]
    draft = await compose(admin, "Nội bộ")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:staff")
    await admin.press(f"tbs:{draft}")
    [sent] = await broadcasts(app)
    for chat in (people["staff"], people["citizen"]):
        for attempt in ("/thongbao", "/broadcast"):
            await chat.say(attempt)
            assert chat.option_data() == []
        for data in ("tbn", "tbh", f"tbs:{draft}", f"bcx:{sent.id}", f"bcf:{sent.id}"):
            await chat.press(data)
            assert chat.option_data() == [] and not chat.last[0].attachments, data
    async with app.services.sessions() as db:
        denied = await audit.entries(db, "access_denied")
    assert sorted(e.subject for e in denied) == sorted(
        ["command:thongbao", "command:broadcast", "option:tbn", "option:tbh", "option:tbs",
         "option:bcx", "option:bcf"] * 2)
    async with app.services.sessions() as db:
        kept = await store.get(db, sent.id or 0)
    assert kept is not None and kept.status == BroadcastStatus.sending
    assert len(await broadcasts(app)) == 1


async def test_html_problems_are_all_shown_and_nothing_is_created(
    app: App, people: dict[str, Chat]
) -> None:
    admin = people["admin"]
    await admin.say("/thongbao")
    await admin.press("tbn")
    await admin.say("<div>Họp</div> <b>lúc 8h & <a href=\"ftp://x\">tài liệu</a>")
    text = admin.text
    assert text.count("•") >= 3
    assert "&lt;div&gt;" in admin.last[0].text  # the tag named, escaped
    assert "http:// or https://" in text and "never closed" in text
    state, data = await state_of(app, admin)
    assert state == "broadcast:text" and "text" not in data
    await admin.say("   ")
    assert (await state_of(app, admin))[0] == "broadcast:text"
    await admin.say("/huy")
    assert (await state_of(app, admin))[0] is None
    assert await broadcasts(app) == []


async def test_a_unit_name_with_markup_is_escaped_in_the_preview(app: App,
                                                                 people: dict[str, Chat]) -> None:
    now = app.services.clock.now()
    async with app.services.sessions() as db:
        dt = await units.by_code(db, "DT")
        await units.add(db, "PT", "Phòng <i>Tư pháp</i> & Hộ tịch", UnitKind.office, dt, now)
        await db.commit()
    head = await member(app, Role.unit_head, "PT", "Trưởng phòng", user_id="pt")
    await head.press("lang:en")
    pt = await unit_id(app, "PT")
    draft = await compose(head, "Xin <i>chào</i>")
    await head.press(f"tbe:{draft}:aud")
    await head.press(f"tba:{draft}:unit")
    await head.press(f"tbu:{draft}:u:{pt}")
    shown, summary = head.last
    escaped = "Phòng &lt;i&gt;Tư pháp&lt;/i&gt; &amp; Hộ tịch"
    assert shown.text == f"📢 <b>Announcement from {escaped}</b>\n\nXin <i>chào</i>"
    assert escaped in summary.text and "<i>Tư pháp" not in summary.text
    assert summary_count(head) == 1


async def test_on_buttons_the_preview_carries_the_link_button(app: App,
                                                              people: dict[str, Chat]) -> None:
    admin = await member(app, Role.admin, "DT", "Quản trị Telegram", user_id="tg-admin",
                         info=buttons_info())
    await admin.press("lang:en")
    draft = await compose(admin, "Khảo sát mức độ hài lòng")
    await admin.press(f"tbe:{draft}:btn")
    await admin.say(f"Trả lời | {URL}")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:role")
    await admin.press(f"tbr:{draft}:admin")
    shown, summary = admin.last
    assert shown.options[0].url == URL and shown.options[0].label == "Trả lời"
    assert summary_count(admin) == 2
    assert [o.data.split(":")[0] for o in summary.options] == ["tbs", "tbw", "tbe", "tbe", "tbq"]
    await admin.press(f"tbs:{draft}")
    [sent] = await broadcasts(app)
    assert sent.total == 2 and sent.audience["role"] == "admin"
    # A photo on a chat that cannot fetch files is refused politely, the draft kept.
    draft = await compose(admin, "Ảnh")
    await admin.press(f"tbe:{draft}:file")
    await admin.say(None, attachment=Attachment("photo", None, "image/jpeg", file_ref="AgAD",
                                                size=1000))
    assert "cannot receive files" in admin.text
    assert (await state_of(app, admin))[0] == "broadcast:file"
    big = Attachment("photo", None, "image/jpeg", data=b"x", size=11 * 1024 * 1024)
    await admin.say(None, attachment=big)
    assert "larger than 10 MB" in admin.text


async def test_a_discarded_draft_sends_nothing(app: App, people: dict[str, Chat]) -> None:
    admin = people["admin"]
    draft = await compose(admin, "Xem trước")
    await admin.press(f"tbe:{draft}:aud")
    await admin.press(f"tba:{draft}:staff")
    await admin.press(f"tbe:{draft}:prev")
    assert summary_count(admin) == 4
    await admin.press(f"tbq:{draft}")
    await admin.press(f"tbs:{draft}")
    assert STALE in admin.text
    assert await broadcasts(app) == [] and await outbox_rows(app) == []
