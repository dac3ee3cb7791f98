"""A realistic annex of an annual reform (CCHC) plan of the demo ward (bot/demo.py), written
for the project: a title block, a two-level header ("Đơn vị thực hiện" above "Chủ trì" and
"Phối hợp"), the "(1) (2) …" line, sections I–III with numbering restarting in each, a
sub-heading with sub-tasks, and deadlines in the words offices use.

`SAMPLE_PLAN` is the workbook for 2026, kept in the repository; `build_sample(year)` writes
the same plan for another year (for demo data that stays current). Regenerate the file with
`.venv/bin/python tests/data/plan_sample.py`."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

SAMPLE_PLAN = Path(__file__).with_name("ke_hoach_cchc_2026_mytho.xlsx")
SAMPLE_YEAR = 2026
TASKS_IN_SAMPLE = 22

WARD = "UBND phường Mỹ Tho"
DESK = "Bộ phận Một cửa phường Mỹ Tho"
SNV = "Sở Nội vụ tỉnh Đồng Tháp"
PROVINCE = "UBND tỉnh Đồng Tháp"
CAIBE = "UBND xã Cái Bè"
HUNG, TAM, HA = "Trần Văn Hùng", "Lê Minh Tâm", "Phạm Thu Hà"

# STT, content, output, lead, co-units, people, deadline ("{y}" is the plan's year, "{n}"
# the next one; a datetime is an Excel date cell).
Cell = str | int | datetime | None
ROWS: list[tuple[Cell, ...]] = [
    ("I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH VÀ TUYÊN TRUYỀN CẢI CÁCH HÀNH CHÍNH",
     None, None, None, None, None),
    (1, "Ban hành Kế hoạch cải cách hành chính năm {y} của UBND phường",
     "Kế hoạch được ban hành", WARD, SNV, HUNG, "31/01/{y}"),
    (2, "Ban hành Kế hoạch tuyên truyền cải cách hành chính năm {y}",
     "Kế hoạch tuyên truyền", WARD, DESK, HA, "Tháng 2/{y}"),
    (3, "Tuyên truyền cải cách hành chính", None, None, None, None, None),
    ("3.1", "Đăng tin, bài về cải cách hành chính trên Trang thông tin điện tử, hệ thống "
     "truyền thanh của phường và nhóm Zalo các khu phố", "Tin, bài tuyên truyền", WARD,
     "Các cơ quan, đơn vị liên quan", HA, "Thường xuyên"),
    ("3.2", "Tổ chức hội nghị đối thoại giữa Chủ tịch UBND phường với người dân về giải "
     "quyết thủ tục hành chính", "Biên bản hội nghị đối thoại", WARD, DESK, f"{HUNG}\n{HA}",
     "Quý II/{y}"),
    (4, "Kiểm tra công tác cải cách hành chính, kỷ luật, kỷ cương hành chính tại Bộ phận "
     "Một cửa", "Thông báo kết quả kiểm tra", WARD, DESK, HUNG, "Quý III"),
    (5, "Báo cáo kết quả thực hiện cải cách hành chính định kỳ hằng quý gửi Sở Nội vụ",
     "Báo cáo quý", WARD, SNV, TAM, "Thường xuyên (hằng quý)"),
    (6, "Báo cáo kết quả cải cách hành chính 6 tháng đầu năm {y}", "Báo cáo 6 tháng", WARD,
     None, TAM, "Trước 05/6"),
    (7, "Tự đánh giá, chấm điểm Chỉ số cải cách hành chính năm {y} kèm tài liệu kiểm chứng",
     "Báo cáo tự đánh giá, tài liệu kiểm chứng", WARD, SNV, f"{HUNG}; {TAM}", "Tháng 11"),
    ("II", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH", None, None, None, None, None),
    (1, "Rà soát, đề xuất đơn giản hóa thủ tục hành chính thuộc thẩm quyền giải quyết của "
     "UBND phường", "Báo cáo rà soát, phương án đơn giản hóa", WARD, DESK, TAM, "30/06/{y}"),
    (2, "Công khai đầy đủ, kịp thời thủ tục hành chính tại Bộ phận Một cửa và trên Cổng "
     "Dịch vụ công", "Danh mục thủ tục hành chính được niêm yết", DESK, WARD, TAM,
     "Thường xuyên"),
    (3, "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính (100% hồ sơ tiếp nhận mới)",
     "Hồ sơ điện tử trên Hệ thống thông tin giải quyết TTHC", DESK, None, f"{TAM}, {HA}",
     "Thường xuyên (hằng tháng)"),
    (4, "Khảo sát sự hài lòng của người dân, tổ chức (SIPAS) đối với sự phục vụ của UBND "
     "phường", "Báo cáo kết quả khảo sát SIPAS", WARD, f"{SNV}; {DESK}", HA, "Quý IV/{y}"),
    (5, "Thực hiện xin lỗi người dân đối với hồ sơ giải quyết trễ hạn", "Thư xin lỗi", DESK,
     None, TAM, "Thường xuyên"),
    (6, "Tiếp nhận, xử lý phản ánh, kiến nghị của người dân về quy định hành chính",
     "Sổ theo dõi, báo cáo kết quả xử lý", "Ủy ban nhân dân phường Mỹ Tho", None, HA,
     "Thường xuyên (hằng quý)"),
    (7, "Học tập kinh nghiệm mô hình \"Bộ phận Một cửa thân thiện\" tại xã Cái Bè",
     "Báo cáo kết quả học tập kinh nghiệm", DESK, CAIBE, TAM, "Tháng 9"),
    ("III", "XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ, CHÍNH QUYỀN SỐ", None, None, None, None, None),
    (1, "Nâng tỷ lệ hồ sơ thủ tục hành chính nộp trực tuyến toàn trình đạt trên 80%",
     "Số liệu trên Cổng Dịch vụ công quốc gia", DESK, WARD, TAM, "Năm {y}"),
    (2, "Hướng dẫn người dân sử dụng dịch vụ công trực tuyến và tài khoản định danh điện tử "
     "VNeID", "Số lượt người dân được hướng dẫn", DESK, None, HA, "Thường xuyên"),
    (3, "Cập nhật, đồng bộ dữ liệu hộ tịch lên Cơ sở dữ liệu hộ tịch điện tử", "Dữ liệu được "
     "đồng bộ", WARD, DESK, HA, datetime(SAMPLE_YEAR, 3, 31)),
    (4, "Ký số 100% văn bản đi trên Hệ thống quản lý văn bản (trừ văn bản mật)",
     "Văn bản điện tử có chữ ký số", WARD, None, HUNG, "Cả năm"),
    (5, "Triển khai thanh toán trực tuyến phí, lệ phí giải quyết thủ tục hành chính",
     "Tỷ lệ hồ sơ thanh toán trực tuyến", DESK, WARD, TAM, "Quý 2"),
    (6, "Báo cáo kết quả triển khai Đề án 06 trên địa bàn phường", "Báo cáo Đề án 06", WARD,
     PROVINCE, TAM, "Trước ngày 15/9/{y}"),
    (7, "Báo cáo tổng kết công tác cải cách hành chính năm {y}", "Báo cáo năm", WARD, SNV,
     HUNG, "15/01/{n}"),
]
HEADER = ["STT", "Nội dung nhiệm vụ", "Sản phẩm đầu ra", "Đơn vị thực hiện", None,
          "Người thực hiện", "Thời gian hoàn thành", "Ghi chú"]
SUBHEADER = [None, None, None, "Chủ trì", "Phối hợp", None, None, None]


def _cell(value: Cell, year: int) -> Cell:
    if isinstance(value, str):
        return value.replace("{y}", str(year)).replace("{n}", str(year + 1))
    if isinstance(value, datetime):
        return value.replace(year=year)
    return value


def build_sample(year: int = SAMPLE_YEAR) -> bytes:
    """The plan's annex as an XLSX workbook, for `year`."""
    import openpyxl
    from openpyxl.styles import Alignment, Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Phụ lục"
    sheet.append(["UBND PHƯỜNG MỸ THO", None, None, None, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"])
    sheet.append([None, None, None, None, "Độc lập - Tự do - Hạnh phúc"])
    sheet.append(["PHỤ LỤC"])
    sheet.append([f"DANH MỤC NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM {year}"])
    sheet.append([f"(Kèm theo Kế hoạch số 12/KH-UBND ngày 15/01/{year} của UBND phường Mỹ "
                  "Tho)"])
    sheet.append([])
    sheet.append(HEADER)
    sheet.append(SUBHEADER)
    sheet.append([f"({i})" for i in range(1, len(HEADER) + 1)])
    for number, content, output, lead, co, people, deadline in ROWS:
        sheet.append([_cell(v, year) for v in (number, content, output, lead, co, people,
                                               deadline)])
    for first, last in (("A7", "A8"), ("B7", "B8"), ("C7", "C8"), ("D7", "E7"), ("F7", "F8"),
                        ("G7", "G8"), ("H7", "H8")):
        sheet.merge_cells(f"{first}:{last}")
    for row in sheet.iter_rows(min_row=1, max_row=9):
        for cell in row:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in sheet.iter_rows(min_row=10):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            if isinstance(cell.value, datetime):
                cell.number_format = "dd/mm/yyyy"
        if isinstance(row[0].value, str) and row[0].value.isalpha():
            for cell in row:
                cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGH", (6, 60, 32, 28, 28, 22, 22, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


if __name__ == "__main__":
    SAMPLE_PLAN.write_bytes(build_sample())
    print(f"wrote {SAMPLE_PLAN}")
