"""What a report hands over, on the fixed data set of `tests/report_data.py`: the short text,
the workbook opened again with openpyxl and read cell by cell, the PNG chart, and the
privacy of all three (no citizen's name, phone or identity number; comments masked)."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import PIL.Image
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.app import App
from bot.clock import ManualClock
from bot.i18n import Translations
from bot.privacy import mask_comment, mask_phones
from bot.rendering import plain
from bot.reports import Rendered, chart, filename, make, render_all
from bot.reports.figures import Answers, Figures, Report, Row, Satisfaction, Timeliness
from bot.reports.period import parse_period
from storage import units
from storage.ratings import QUESTIONS
from tests.report_data import NOW, SECRETS, seed

PERCENT = "0.0%"


@pytest.fixture
async def seeded(app: App, clock: ManualClock) -> App:
    clock.set(NOW.astimezone(UTC))
    await seed(app)
    return app


async def rendered(app: App, unit: str = "DT", period: str = "2026-Q3",
                   locale: str = "en") -> Rendered:
    found = parse_period(period)
    assert found is not None
    async with app.services.sessions() as db:
        target = await units.by_code(db, unit)
        assert target is not None
        report = await make(app.services, db, target, found)
    return await render_all(app.services.translations.get(locale), report)


def values(ws: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(row) for row in ws.iter_rows(values_only=True)]


# -- the text ------------------------------------------------------------------------------

async def test_the_summary_marks_the_targets(seeded: App) -> None:
    text = plain((await rendered(seeded)).text)
    assert text.splitlines() == [
        "Dossiers and satisfaction — UBND tỉnh Đồng Tháp",
        "Quarter III/2026 (01/07/2026 – 30/09/2026)",
        "",
        "Resolving dossiers",
        "On time: 6 of 10 resolved (60.0 %) ❌ target above 96 % not met",
        "Late: 4 (with an apology letter: 2, without: 2)",
        "Overdue now (05/10/2026): 2",
        "",
        "Citizens' satisfaction",
        "Ratings: 8 for 9 dossiers returned (response rate 88.9 %)",
        "Satisfied (overall question): 57.1 % (4 of 7 answers) ❌ target of 95 % not met",
        "Not \"dissatisfied\" (Decision 766): 71.4 %",
        "By element:",
        "• Access to the service: 66.7 % (6 answers)",
        "• The administrative procedure: 66.7 % (6 answers)",
        "• The civil servant who handled it: 83.3 % (6 answers)",
        "• The result: 83.3 % (6 answers)",
        "• Handling of feedback and complaints: 75.0 % (4 answers)",
        "3 comments, without the citizens' names or phone numbers, in the workbook.",
        "",
        "By unit, procedure, civil servant and month: see the chart and the workbook.",
    ]


async def test_targets_met_and_nothing_to_divide(seeded: App) -> None:
    # October: MC-06 on time (1 of 1); R8's only answer is "rất không hài lòng".
    text = plain((await rendered(seeded, "DT", "2026-10")).text)
    assert "On time: 1 of 1 resolved (100.0 %) ✅ target above 96 % met" in text
    assert "Satisfied (overall question): 0.0 % (0 of 1 answers) ❌ target of 95 % not met" \
        in text
    # 2 July at Mỹ Tho: R4 answered every element but not the overall question.
    text = plain((await rendered(seeded, "MYTHO", "02/07/2026-02/07/2026")).text)
    assert "No dossier was resolved in this period." in text
    assert "Ratings: 1 for 0 dossiers returned (response rate —)" in text
    assert "Satisfied (overall question): — no answers in this period." in text
    assert "• Access to the service: 100.0 % (1 answer)" in text
    # Vietnamese formats the percentages with a decimal comma.
    vi = plain((await rendered(seeded, "MYTHO", locale="vi")).text)
    assert "Tiếp cận dịch vụ" in vi and "50,0 %" in vi


# -- the workbook --------------------------------------------------------------------------

async def test_the_workbook_cell_by_cell(seeded: App) -> None:
    book = load_workbook(io.BytesIO((await rendered(seeded)).xlsx))
    assert book.sheetnames == ["Summary", "By unit", "By procedure", "By civil servant",
                               "By month", "Satisfaction levels", "Comments"]

    ws = book["Summary"]
    assert ws["A1"].value == "Dossiers and satisfaction — UBND tỉnh Đồng Tháp"
    assert ws["A1"].font.bold
    assert ws["B2"].value == "UBND tỉnh Đồng Tháp (DT)"
    assert ws["B3"].value == "Quarter III/2026 (01/07/2026 – 30/09/2026)"
    assert ws["B4"].value == "09:00 05/10/2026"
    assert values(ws)[5] == ("Figure", "Value", "Target", "Assessment")
    for cell in ws[6]:
        assert cell.font.bold and cell.fill.fgColor.rgb == "00DDEBF7"
    assert ws.freeze_panes == "A7"
    assert values(ws)[6:] == [
        ("Dossiers resolved", 10, None, None),
        ("Resolved on time", 6, None, None),
        ("On-time rate", pytest.approx(0.6), "above 96 %", "not met"),
        ("Resolved late", 4, None, None),
        ("Late, with an apology", 2, None, None),
        ("Late, without an apology", 2, None, None),
        ("Overdue now (when the report was made)", 2, None, None),
        ("Dossiers returned", 9, None, None),
        ("Ratings", 8, None, None),
        ("Response rate (ratings / dossiers returned)", pytest.approx(8 / 9), None, None),
        ("Answers to the overall question", 7, None, None),
        ("Satisfied (overall question)", pytest.approx(4 / 7), "at least 95 %", "not met"),
        ("Not dissatisfied (Decision 766)", pytest.approx(5 / 7), None, None),
        ("Comments", 3, None, None),
    ]
    assert [ws.cell(row=r, column=2).number_format for r in (9, 16, 18, 19)] == [PERCENT] * 4
    assert ws["B7"].number_format == "General"
    assert ws["D9"].font.color.rgb == "00C62828"
    assert ws.column_dimensions["A"].width >= 40

    header = ("Resolved", "On time", "On-time rate", "Late", "Late, with an apology",
              "Late, without an apology", "Overdue now", "Returned", "Ratings",
              "Response rate", "Answers to the overall question",
              "Satisfied (overall question)", "Not dissatisfied (Decision 766)")
    ws = book["By unit"]
    assert ws.freeze_panes == "C2"
    assert all(c.font.bold for c in ws[1])
    assert values(ws) == [
        ("Code", "Unit", *header),
        ("DT", "UBND tỉnh Đồng Tháp (its own dossiers)", 0, 0, "—", 0, 0, 0, 0, 0, 0, "—",
         0, "—", "—"),
        ("CAIBE", "UBND xã Cái Bè", 3, 2, pytest.approx(2 / 3), 1, 1, 0, 0, 3, 4,
         pytest.approx(4 / 3), 4, 0.5, 0.75),
        ("MYTHO", "UBND phường Mỹ Tho", 7, 4, pytest.approx(4 / 7), 3, 1, 2, 2, 6, 4,
         pytest.approx(4 / 6), 3, pytest.approx(2 / 3), pytest.approx(2 / 3)),
        ("Total", None, 10, 6, 0.6, 4, 2, 2, 2, 9, 8, pytest.approx(8 / 9), 7,
         pytest.approx(4 / 7), pytest.approx(5 / 7)),
    ]
    rate_columns = [i for i, h in enumerate(header, start=3) if "rate" in h or "(" in h]
    assert [ws.cell(row=3, column=c).number_format for c in rate_columns] == [PERCENT] * 4
    assert ws.cell(row=2, column=5).alignment.horizontal == "right"  # "—" where nothing
    assert ws.cell(row=5, column=3).font.bold  # the total line

    ws = book["By procedure"]
    assert ws.freeze_panes == "C2"
    assert [row[:5] for row in values(ws)] == [
        ("Procedure code", "Procedure", "Resolved", "On time", "On-time rate"),
        ("1.001193", "Đăng ký khai sinh", 5, 3, 0.6),
        ("1.000656", "Chứng thực bản sao", 2, 2, 1),
        ("2.000986", "Đăng ký thường trú", 2, 0, 0),
        (None, "Cấp giấy phép xây dựng", 1, 1, 1),
        ("Total", None, 10, 6, 0.6),
    ]

    ws = book["By civil servant"]
    assert ws.freeze_panes == "B2"
    assert [(row[0], row[1], row[9]) for row in values(ws)[1:]] == [
        ("Lê Minh Tâm", 3, 3), ("Ngô Thị Hạnh", 2, 1), ("Phạm Văn Bình", 3, 4),
        ("Võ Thị Mai", 1, 0), ("(no handler linked)", 2, 1),
    ]

    ws = book["By month"]
    assert "Overdue now" not in values(ws)[0]  # a figure of today, not of a month
    assert [row[:4] for row in values(ws)] == [
        ("Month", "Resolved", "On time", "On-time rate"),
        ("Month 7/2026", 3, 3, 1), ("Month 8/2026", 4, 2, 0.5),
        ("Month 9/2026", 3, 1, pytest.approx(1 / 3)), ("Total", 10, 6, 0.6),
    ]

    ws = book["Satisfaction levels"]
    assert ws.freeze_panes == "B2"
    assert values(ws) == [
        ("Question", "Answers", "Satisfied or very satisfied", "Satisfaction rate",
         "Not dissatisfied (Decision 766)", "Very dissatisfied", "Dissatisfied", "Neutral",
         "Satisfied", "Very satisfied"),
        ("Overall satisfaction (overall question)", 7, 4, pytest.approx(4 / 7),
         pytest.approx(5 / 7), 1, 1, 1, 2, 2),
        ("Access to the service", 6, 4, pytest.approx(4 / 6), 1, 0, 0, 2, 2, 2),
        ("The administrative procedure", 6, 4, pytest.approx(4 / 6), pytest.approx(5 / 6),
         0, 1, 1, 3, 1),
        ("The civil servant who handled it", 6, 5, pytest.approx(5 / 6), 1, 0, 0, 1, 2, 3),
        ("The result", 6, 5, pytest.approx(5 / 6), pytest.approx(5 / 6), 1, 0, 0, 2, 3),
        ("Handling of feedback and complaints", 4, 3, 0.75, 1, 0, 0, 1, 1, 2),
    ]
    assert ws["D2"].number_format == PERCENT and ws["E7"].number_format == PERCENT

    ws = book["Comments"]
    assert ws.freeze_panes == "A2"
    assert values(ws) == [
        ("Dossier", "Procedure", "Date", "Overall satisfaction (overall question)",
         "Access to the service", "The administrative procedure",
         "The civil servant who handled it", "The result",
         "Handling of feedback and complaints", "Comment"),
        ("MC-01", "Đăng ký khai sinh", datetime(2026, 7, 11), "Very satisfied",
         "Very satisfied", "Satisfied", "Very satisfied", "Very satisfied", None,
         "Tôi là •••, SĐT 0•••••••78, CCCD •••. Cán bộ hướng dẫn tận tình, ••• rất cảm ơn."),
        ("CB-02", "Đăng ký khai sinh", datetime(2026, 8, 12), "Very dissatisfied", None, None,
         None, None, None, "Quá chậm"),
        ("MC-03", "Đăng ký thường trú", datetime(2026, 8, 24), "Dissatisfied", "Neutral",
         "Dissatisfied", "Neutral", "Very dissatisfied", None,
         "Trễ hẹn 2 ngày, chị ••• phải đi lại nhiều lần; gọi 0•••••••21 không ai nghe."),
    ]
    assert ws["C2"].number_format == "dd/mm/yyyy"


async def test_a_single_month_has_no_month_sheet_and_vietnamese_headers(seeded: App) -> None:
    book = load_workbook(io.BytesIO((await rendered(seeded, "MYTHO", "2026-08",
                                                    locale="vi")).xlsx))
    assert "By month" not in book.sheetnames and len(book.sheetnames) == 6
    levels = book.worksheets[4]
    # The words of the rating scale come from the rating conversation's catalogue.
    assert values(levels)[0][5:] == ("Rất không hài lòng", "Không hài lòng", "Bình thường",
                                     "Hài lòng", "Rất hài lòng")
    assert values(levels)[2][0] == "Tiếp cận dịch vụ"


# -- the chart -----------------------------------------------------------------------------

def colour_count(png: bytes, rgb: tuple[int, int, int]) -> int:
    image = PIL.Image.open(io.BytesIO(png)).convert("RGB")
    return sum(count for count, colour in image.getcolors(1 << 20) or [] if colour == rgb)


async def test_the_chart_is_a_phone_sized_png_with_every_letter(seeded: App) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = await rendered(seeded, "MYTHO", locale="vi")
    # No "Glyph … missing from font(s)": every Vietnamese letter was drawn.
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    png = files.png
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(png) < 600_000
    image = PIL.Image.open(io.BytesIO(png))
    assert image.width == 1080 and 900 < image.height < 2500
    # Bars below their target are orange, the two at 100 % (feedback; Mỹ Tho's own
    # dossiers) green; the target lines blue.
    assert colour_count(png, (0xD8, 0x43, 0x15)) > 50_000
    assert colour_count(png, (0x2E, 0x7D, 0x32)) > 10_000
    assert colour_count(png, (0x15, 0x65, 0xC0)) > 300
    assert len(PIL.Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 20) or []) > 50


def test_a_missing_glyph_would_be_noticed() -> None:
    """The check above can fail: a letter DejaVu Sans lacks is reported."""
    period = parse_period("2026-Q3")
    assert period is not None
    report = Report("X", "Ủy ban 漢字", period, datetime(2026, 10, 5, tzinfo=UTC), Figures(),
                    [], [], [], [], [])
    t = Translations(ZoneInfo("Asia/Ho_Chi_Minh"), "vi").get("vi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = chart.render(t, report)
    assert any("missing from font" in str(w.message) for w in caught)
    assert PIL.Image.open(io.BytesIO(png)).width == 1080


def test_many_units_are_cut_to_the_lowest() -> None:
    rows = [Row(f"U{n:02d}", f"Xã số {n}", Figures(Timeliness(resolved=100, on_time=80 + n)))
            for n in range(20)]
    period = parse_period("2026")
    assert period is not None
    report = Report("DT", "UBND tỉnh", period, datetime(2026, 10, 5, tzinfo=UTC),
                    Figures(Timeliness(resolved=2000, on_time=1790),
                            Satisfaction(questions={q: Answers((0, 0, 0, 1, 1))
                                                    for q in QUESTIONS})),
                    rows, [], [], [], [])
    t = Translations(ZoneInfo("Asia/Ho_Chi_Minh"), "en").get("en")
    tall = PIL.Image.open(io.BytesIO(chart.render(t, report)))
    short = PIL.Image.open(io.BytesIO(chart.render(
        t, Report(**{**report.__dict__, "by_unit": rows[:3]}))))
    # 1 + 12 unit bars instead of 1 + 20: the height grows with the bars, within reason.
    assert tall.width == short.width == 1080
    assert 1.4 < tall.height / short.height < 2.5 and tall.height < 3000


# -- privacy -------------------------------------------------------------------------------

async def test_reports_never_show_a_citizen(seeded: App) -> None:
    for locale in ("vi", "en"):
        files = await rendered(seeded, locale=locale)
        book = load_workbook(io.BytesIO(files.xlsx))
        cells = [str(v) for ws in book.worksheets for row in values(ws) for v in row
                 if v is not None]
        everything = "\n".join([files.text, *cells])
        for secret in SECRETS:
            assert secret.lower() not in everything.lower(), secret
    assert filename(files.report, "xlsx") == "baocao_DT_2026-Q3.xlsx"


@pytest.mark.parametrize(("text", "masked"), [
    ("gọi 0912 345 678 nhé", "gọi 0•••••••78 nhé"),
    ("0912.345.678", "0•••••••78"),
    ("0912-345-678.", "0•••••••78."),
    ("+84 912 345 678", "+84•••••••78"),
    ("(+84) 912345678", "(+84)•••••••78"),
    ("(0912 345 678)", "(0•••••••78)"),
    ("máy bàn 0277 3851 234", "máy bàn 0••••••••34"),
    ("sđt:0987654321,", "sđt:0•••••••21,"),
    # Not phone numbers: codes, dates, amounts, the hotline, a short number.
    ("hồ sơ 000.00.25.H20-261125-0007", "hồ sơ 000.00.25.H20-261125-0007"),
    ("hẹn 01/01/2026, phí 100.000 đồng", "hẹn 01/01/2026, phí 100.000 đồng"),
    ("Tổng đài 1022, phòng 0123", "Tổng đài 1022, phòng 0123"),
])
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


@pytest.mark.parametrize(("text", "masked"), [
    ("Nguyễn Thị Hoa rất hài lòng", "••• rất hài lòng"),
    ("NGUYEN THI HOA gửi góp ý", "••• gửi góp ý"),
    ("nguyễn   thị hoa", "•••"),
    ("Thị Hoa cảm ơn", "••• cảm ơn"),
    ("chị Hoa ở quầy 2; Ông Hoa; tôi là hoa", "chị ••• ở quầy 2; Ông •••; tôi là •••"),
    # The given name alone is an ordinary word: kept unless someone is addressed by it.
    ("hoa tươi và Hoàng Hoa Thám", "hoa tươi và Hoàng Hoa Thám"),
    ("CCCD 079123456789, CMND 312345678", "CCCD •••, CMND •••"),
    ("email hoa.nguyen@gmail.com", "email •••"),
])
def test_comments_lose_names_and_numbers(text: str, masked: str) -> None:
    assert mask_comment(text, ["Nguyễn Thị Hoa", None, ""]) == masked


def test_a_short_rater_name_does_not_eat_words() -> None:
    # "An" is the chat's name: "công an" and "an toàn" stay, "anh An" does not.
    assert mask_comment("Công an phường làm việc an toàn, anh An tận tình", ["An"]) == \
        "Công an phường làm việc an toàn, anh ••• tận tình"
