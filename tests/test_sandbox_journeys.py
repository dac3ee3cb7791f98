"""What a newcomer does first in the terminal sandbox (`make run` without a token), typed
into `hanchot console` as a person would: hand over a demo dossier, rate it as the citizen,
read the report as the admin — the chart and the workbook saved to open — and ask how a
procedure works."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from tests.test_cli import run


def test_pick_up_rate_and_read_the_report(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    # The sandbox runs on the real clock. In office hours the demo's reminders arrive while
    # the script types, and their "1. …" would take the numbers meant for the lists: today
    # off for the staff, the whole day quiet for citizens.
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert run(["calendar", "add-off", today, "Kiểm thử"], tmp_path).returncode == 0
    script = "\n".join([
        "/as staff", "/hoso", "4", "1",  # the ready dossier → «Đã trả kết quả»
        "/as citizen", "/hoso", "3", "1",  # its card → «Đánh giá mức độ hài lòng»
        "2", "1", "6", "2", "1", "4", "Cán bộ nhiệt tình, chỉ phải chờ hơi lâu",
        "/as admin", "/baocao", "4", "1",  # Mỹ Tho, this month
    ]) + "\n"
    result = run(["console"], tmp_path, stdin=script, QUIET_HOURS="00:00-23:59")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Đã ghi nhận hồ sơ 000.00.25.H20-261116-0004 đã trả kết quả" in out
    assert "Câu 5/5" in out and "Xin cảm ơn Ông/Bà! Đánh giá" in out
    assert "UBND phường Mỹ Tho" in out and "Mức độ hài lòng của người dân" in out
    files = sorted((tmp_path / "sandbox-files").iterdir())
    png = next(f for f in files if f.suffix == ".png")
    xlsx = next(f for f in files if f.suffix == ".xlsx")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert f"→ sandbox-files/{png.name}" in out
    book = load_workbook(xlsx)
    assert "Tổng hợp" in book.sheetnames
    comments = book["Góp ý"]
    texts = [str(c.value) for row in comments.iter_rows() for c in row if c.value]
    assert "Cán bộ nhiệt tình, chỉ phải chờ hơi lâu" in texts
    assert not any("Đặng Văn Sơn" in t or "0912345678" in t for t in texts)


def test_a_newcomer_asks_how_to_register_a_birth(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    script = "lam giay khai sinh can nhung gi\nbao lâu thì có?\n"
    result = run(["console"], tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    card, follow_up = result.stdout.split("[citizen]> ")[1:3]
    assert "Thủ tục đăng ký khai sinh (mã thủ tục 1.001193)" in card
    assert "Cần chuẩn bị" in card and "Giấy chứng sinh" in card
    assert "Thời hạn giải quyết" in follow_up and "Cần chuẩn bị" not in follow_up
