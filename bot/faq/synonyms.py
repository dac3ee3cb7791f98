"""The synonym and abbreviation table the search expands questions with.

Citizens ask for "sổ đỏ", "CCCD" or "bằng lái"; the catalogue says "Giấy chứng nhận quyền
sử dụng đất", "thẻ căn cước", "giấy phép lái xe". A term found in a question adds its
expansion (one or more phrases separated by commas) to the search. The defaults below are
merged with the rows of `faq_synonyms`: a row wins over the default of the same term, and a
row with an empty expansion switches a default off (that is how `remove` drops one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.faq.text import fold_word, normalise, strip_marks, syllables
from storage.procedures import Synonym

TERM_MAX = 100
EXPANSION_MAX = 300

DEFAULTS: dict[str, str] = {
    # Identity papers
    "cccd": "căn cước công dân, thẻ căn cước",
    "căn cước công dân": "thẻ căn cước",
    "cmnd": "chứng minh nhân dân, thẻ căn cước",
    "cmt": "chứng minh nhân dân, thẻ căn cước",
    "chứng minh thư": "chứng minh nhân dân, thẻ căn cước",
    "chứng minh nhân dân": "thẻ căn cước",
    "tài khoản vneid": "tài khoản định danh điện tử",
    "kích hoạt vneid": "tài khoản định danh điện tử",
    "định danh mức 2": "tài khoản định danh điện tử mức độ 02",
    "vneid mức 2": "tài khoản định danh điện tử mức độ 02",
    "làm căn cước": "cấp thẻ căn cước",
    "làm cccd": "cấp thẻ căn cước",
    "đổi cmnd": "cấp thẻ căn cước",
    "passport": "hộ chiếu phổ thông",
    "hộ chiếu": "hộ chiếu phổ thông",
    "visa": "thị thực",
    # Vehicles and driving
    "gplx": "giấy phép lái xe",
    "blx": "giấy phép lái xe",
    "bằng lái": "giấy phép lái xe",
    "bằng lái xe": "giấy phép lái xe",
    "cà vẹt": "chứng nhận đăng ký xe",
    "cavet": "chứng nhận đăng ký xe",
    "giấy đăng ký xe": "chứng nhận đăng ký xe",
    "biển số": "biển số xe",
    "bấm biển": "đăng ký, cấp biển số xe",
    "sang tên xe": "thay đổi chủ xe, đăng ký sang tên xe",
    "mới mua": "đăng ký lần đầu",
    "nộp lại": "thu hồi",
    "phế liệu": "thu hồi",
    "xe máy": "xe",
    "ô tô": "xe",
    # Land and housing
    "sổ đỏ": "giấy chứng nhận quyền sử dụng đất",
    "sổ hồng": "giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở",
    "làm sổ": "cấp giấy chứng nhận quyền sử dụng đất",
    "làm sổ đỏ": "đăng ký đất đai, cấp giấy chứng nhận quyền sử dụng đất lần đầu",
    "cấp sổ đỏ": "đăng ký đất đai, cấp giấy chứng nhận quyền sử dụng đất lần đầu",
    "sổ đỏ lần đầu": "đăng ký đất đai, cấp giấy chứng nhận quyền sử dụng đất lần đầu",
    "mất sổ": "cấp lại giấy chứng nhận do bị mất",
    "mất sổ đỏ": "cấp lại giấy chứng nhận do bị mất",
    "mất sổ hồng": "cấp lại giấy chứng nhận do bị mất",
    "bị mất sổ": "cấp lại giấy chứng nhận do bị mất",
    "gcn": "giấy chứng nhận",
    "gcnqsdđ": "giấy chứng nhận quyền sử dụng đất",
    "qsdđ": "quyền sử dụng đất",
    "sổ nhà đất": "giấy chứng nhận quyền sử dụng đất",
    "thổ cư": "đất ở",
    "nhà đất": "quyền sử dụng đất, nhà ở",
    "đất vườn": "đất nông nghiệp",
    "lên thổ cư": "chuyển mục đích sử dụng đất",
    "sang đất ở": "chuyển mục đích sử dụng đất",
    "chuyển đất": "chuyển mục đích sử dụng đất",
    "tách sổ": "tách thửa đất",
    "gộp sổ": "hợp thửa đất",
    "sang tên": "đăng ký biến động, chuyển nhượng",
    "sang tên sổ đỏ": "đăng ký biến động, chuyển nhượng quyền sử dụng đất",
    "giấy tay": "đã chuyển quyền sử dụng đất, chưa đăng ký",
    "tặng cho": "tặng cho, đăng ký biến động",
    "bán đất": "chuyển nhượng quyền sử dụng đất, chuyển nhượng bất động sản",
    "bán nhà": "chuyển nhượng bất động sản",
    "mua đất": "nhận chuyển nhượng quyền sử dụng đất",
    "bổ sung nhà": "đăng ký tài sản gắn liền với thửa đất",
    "tranh chấp đất": "tranh chấp đất đai",
    "mua bán nhà": "giao dịch, nhà ở",
    "hợp đồng": "giao dịch",
    "gpxd": "giấy phép xây dựng",
    "xây nhà": "giấy phép xây dựng, nhà ở riêng lẻ",
    "xây thêm": "điều chỉnh giấy phép xây dựng",
    "sửa nhà": "giấy phép xây dựng sửa chữa, cải tạo, nhà ở riêng lẻ",
    "sửa chữa nhà": "giấy phép xây dựng sửa chữa, cải tạo, nhà ở riêng lẻ",
    "cải tạo nhà": "giấy phép xây dựng sửa chữa, cải tạo, nhà ở riêng lẻ",
    "cơi nới": "giấy phép xây dựng sửa chữa, cải tạo",
    "xin phép": "giấy phép",
    # Residence
    "hộ khẩu": "cư trú, thường trú",
    "nhập hộ khẩu": "đăng ký thường trú",
    "nhập khẩu": "đăng ký thường trú",
    "chuyển hộ khẩu": "đăng ký thường trú",
    "chủ hộ": "điều chỉnh thông tin về cư trú",
    "kt3": "tạm trú",
    "ct07": "xác nhận thông tin về cư trú",
    "ct01": "tờ khai thay đổi thông tin cư trú",
    "xác nhận cư trú": "xác nhận thông tin về cư trú",
    "thuê trọ": "tạm trú",
    "ở trọ": "tạm trú",
    "chuyển nhà": "thay đổi nơi cư trú",
    # Civil status (hộ tịch)
    "ks": "khai sinh",
    "gks": "giấy khai sinh",
    "mới đẻ": "đăng ký khai sinh",
    "mới sinh": "đăng ký khai sinh",
    "giấy chứng tử": "khai tử",
    "báo tử": "khai tử",
    "qua đời": "khai tử",
    "cưới": "đăng ký kết hôn",
    "lấy vợ": "đăng ký kết hôn",
    "lấy chồng": "đăng ký kết hôn",
    "ly dị": "ly hôn",
    "độc thân": "xác nhận tình trạng hôn nhân",
    "xnthn": "xác nhận tình trạng hôn nhân",
    "sửa tên": "thay đổi, cải chính, đính chính",
    "đổi tên": "thay đổi, cải chính",
    "đổi họ": "thay đổi, cải chính",
    "sai tên": "cải chính, đính chính",
    "ghi sai": "cải chính, đính chính, sai sót",
    "bị sai": "cải chính, đính chính, sai sót",
    "nhận con": "nhận cha, mẹ, con",
    "nhận cha": "nhận cha, mẹ, con",
    "nhận con nuôi": "đăng ký việc nuôi con nuôi",
    "xin con nuôi": "đăng ký việc nuôi con nuôi",
    "sửa sai": "cải chính, điều chỉnh thông tin",
    "sai ngày sinh": "cải chính, điều chỉnh thông tin",
    "sai năm sinh": "cải chính, điều chỉnh thông tin",
    "sai thông tin": "cải chính, điều chỉnh thông tin",
    "người nước ngoài": "yếu tố nước ngoài",
    "việt kiều": "yếu tố nước ngoài",
    "hàn quốc": "nước ngoài",
    "trung quốc": "nước ngoài",
    "đài loan": "nước ngoài",
    "nhật bản": "nước ngoài",
    # Certification, judicial records
    "công chứng": "chứng thực",
    "sao y": "chứng thực bản sao từ bản chính",
    "photo công chứng": "chứng thực bản sao từ bản chính",
    "công chứng bản sao": "chứng thực bản sao từ bản chính",
    "chứng thực bản sao": "chứng thực bản sao từ bản chính",
    "bản dịch": "chứng thực chữ ký người dịch",
    "dịch thuật": "chứng thực chữ ký người dịch",
    "bằng tốt nghiệp": "văn bằng, chứng chỉ",
    "bản sao bằng": "cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
    "lltp": "lý lịch tư pháp",
    "lý lịch": "phiếu lý lịch tư pháp",
    "tiền án": "phiếu lý lịch tư pháp",
    # Schools
    "cấp 1": "tiểu học",
    "cấp 2": "trung học cơ sở",
    "cấp 3": "trung học phổ thông",
    # Business and tax
    "đkkd": "đăng ký kinh doanh",
    "gpkd": "giấy phép kinh doanh, đăng ký kinh doanh",
    "giấy phép kinh doanh": "đăng ký thành lập hộ kinh doanh, đăng ký doanh nghiệp",
    "hkd": "hộ kinh doanh",
    "đăng ký hộ kinh doanh": "đăng ký thành lập hộ kinh doanh",
    "chủ hộ kinh doanh": "thay đổi nội dung đăng ký hộ kinh doanh",
    "đăng ký doanh nghiệp": "đăng ký thành lập doanh nghiệp",
    "mở quán": "đăng ký thành lập hộ kinh doanh",
    "mở tiệm": "đăng ký thành lập hộ kinh doanh",
    "mở cửa hàng": "đăng ký thành lập hộ kinh doanh",
    "buôn bán": "hộ kinh doanh",
    "bán hàng": "kinh doanh",
    "tạm nghỉ": "tạm ngừng kinh doanh",
    "nghỉ bán": "tạm ngừng kinh doanh",
    "đóng cửa": "chấm dứt hoạt động",
    "ngành nghề": "thay đổi nội dung đăng ký",
    "mở công ty": "đăng ký thành lập doanh nghiệp",
    "thành lập công ty": "đăng ký thành lập doanh nghiệp",
    "cty": "công ty",
    "tnhh": "trách nhiệm hữu hạn",
    "dn": "doanh nghiệp",
    "mst": "mã số thuế, đăng ký thuế",
    "mã số thuế": "đăng ký thuế",
    "tncn": "thu nhập cá nhân",
    "gtgt": "giá trị gia tăng",
    "trước bạ": "lệ phí trước bạ",
    # Social insurance and welfare
    "bhyt": "bảo hiểm y tế",
    "bhxh": "bảo hiểm xã hội",
    "bhtn": "bảo hiểm thất nghiệp, trợ cấp thất nghiệp",
    "thất nghiệp": "trợ cấp thất nghiệp",
    "nghỉ việc": "trợ cấp thất nghiệp",
    "hồ sơ thất nghiệp": "giải quyết hưởng trợ cấp thất nghiệp",
    "hưởng thất nghiệp": "giải quyết hưởng trợ cấp thất nghiệp",
    "thẻ bảo hiểm": "thẻ bảo hiểm y tế",
    "mua bảo hiểm": "đăng ký đóng",
    "mua bhyt": "đăng ký đóng, cấp thẻ bảo hiểm y tế",
    "nơi khám chữa bệnh ban đầu": "điều chỉnh thông tin thẻ bảo hiểm y tế",
    "về hưu": "lương hưu",
    "nghỉ hưu": "lương hưu",
    "sinh con": "thai sản",
    "sinh đẻ": "thai sản",
    "tiền tuất": "tử tuất",
    "mai táng": "tử tuất, mai táng",
    "nvqs": "nghĩa vụ quân sự",
    "đi nghĩa vụ": "nghĩa vụ quân sự",
    "nhập ngũ": "nghĩa vụ quân sự",
    "bộ đội": "quân nhân",
    "chống mỹ": "kháng chiến chống Mỹ cứu nước",
    # Common abbreviations of the administration
    "ubnd": "ủy ban nhân dân",
    "tthc": "thủ tục hành chính",
    "dvc": "dịch vụ công",
    # What citizens ask about, in their words
    "làm": "cấp, đăng ký",
    "làm giấy": "cấp giấy, đăng ký",
    "làm lại": "cấp lại",
    "làm mất": "cấp lại, bị mất",
    "mất": "cấp lại, bị mất",
    "bị mất": "cấp lại",
    "mới mất": "khai tử",
    "vừa mất": "khai tử",
    "đã mất": "khai tử, tử tuất",
    "mất rồi": "khai tử, tử tuất",
    "người mất": "khai tử, tử tuất",
    "chết": "khai tử",
    "hỏng": "cấp đổi, cấp lại",
    "rách": "cấp đổi",
    "hết hạn": "cấp đổi, gia hạn",
    "đổi": "cấp đổi",
    "xin": "cấp",
    # Which part of a procedure is asked for: the answer shows that part; the search does
    # not let these words pick the procedure (see bot.faq.search.ASPECTS).
    "online": "trực tuyến",
    "qua mạng": "trực tuyến",
    "vneid": "trực tuyến",
    "dịch vụ công": "trực tuyến",
    "bao nhiêu tiền": "lệ phí",
    "tốn bao nhiêu": "lệ phí",
    "hết bao nhiêu": "lệ phí",
    "phí bao nhiêu": "lệ phí",
    "lệ phí bao nhiêu": "lệ phí",
    "mất bao lâu": "thời hạn giải quyết",
    "bao lâu": "thời hạn giải quyết",
    "mấy ngày": "thời hạn giải quyết",
    "bao nhiêu ngày": "thời hạn giải quyết",
    "ở đâu": "cơ quan thực hiện",
    "nộp ở đâu": "cơ quan thực hiện",
    "làm ở đâu": "cơ quan thực hiện",
    "chỗ nào": "cơ quan thực hiện",
    "giấy tờ gì": "thành phần hồ sơ",
    "những giấy tờ gì": "thành phần hồ sơ",
    "cần những gì": "thành phần hồ sơ",
    "cần gì": "thành phần hồ sơ",
    "cần mang gì": "thành phần hồ sơ",
    "hồ sơ gồm": "thành phần hồ sơ",
}


def clean_term(term: str) -> str:
    """How a term is stored and matched: NFC, lower case, one space between words."""
    return normalise(term)


@dataclass(frozen=True)
class Entry:
    term: str
    expansion: str  # "" = switched off
    source: str  # "default", "custom" (a row of our own) or "changed" (a row over a default)

    @property
    def phrases(self) -> list[str]:
        return [p.strip() for p in self.expansion.split(",") if p.strip()]


def merge(rows: Iterable[tuple[str, str]],
          defaults: Mapping[str, str] = DEFAULTS) -> dict[str, Entry]:
    """Term → entry: the defaults, then the rows of the table over them."""
    merged = {clean_term(t): Entry(clean_term(t), e, "default") for t, e in defaults.items()}
    for term, expansion in rows:
        key = clean_term(term)
        merged[key] = Entry(key, expansion.strip(), "changed" if key in merged else "custom")
    return merged


def active(entries: Mapping[str, Entry]) -> dict[str, str]:
    """The entries in force: term → expansion."""
    return {t: e.expansion for t, e in entries.items() if e.expansion}


class SynonymMatcher:
    """Finds the terms of a table in a list of syllables: the longest first, no overlap.
    A term written with marks needs the same marks when the question has marks ("mất",
    lost, is not "mặt", face); a question without marks matches on the folded form."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._by_folded: dict[tuple[str, ...], list[tuple[tuple[str, ...], str, list[str]]]] = {}
        self.longest = 1
        for term, expansion in table.items():
            words = tuple(syllables(term))
            if not words:
                continue
            folded = tuple(fold_word(w) for w in words)
            phrases = [p.strip() for p in expansion.split(",") if p.strip()]
            self._by_folded.setdefault(folded, []).append((words, term, phrases))
            self.longest = max(self.longest, len(words))

    def find(self, words: list[str], marked: bool) -> list[tuple[int, int, str, list[str]]]:
        """(start, end, term, phrases) for each term found in `words` (normalised), in
        order. Longer terms win over the shorter ones they overlap ("làm giấy" gives way to
        "giấy chứng tử" in "làm giấy chứng tử")."""
        folded = [fold_word(w) for w in words]
        hits: list[tuple[int, int, str, list[str]]] = []
        for i in range(len(words)):
            for size in range(1, min(self.longest, len(words) - i) + 1):
                hit = self._pick(tuple(folded[i:i + size]), tuple(words[i:i + size]), marked)
                if hit is not None:
                    hits.append((i, i + size, hit[0], hit[1]))
        taken = [False] * len(words)
        chosen: list[tuple[int, int, str, list[str]]] = []
        for start, end, term, phrases in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                chosen.append((start, end, term, phrases))
        return sorted(chosen)

    def _pick(self, folded: tuple[str, ...], written: tuple[str, ...],
              marked: bool) -> tuple[str, list[str]] | None:
        candidates = self._by_folded.get(folded)
        if not candidates:
            return None
        for words, term, phrases in candidates:
            if words == written:
                return term, phrases
        if not marked:
            return candidates[0][1], candidates[0][2]
        # A question with marks: a term without marks ("ks") still matches as written.
        for words, term, phrases in candidates:
            if all(strip_marks(w) == w for w in words):
                return term, phrases
        return None


# -- the table ------------------------------------------------------------------------------

async def load(db: AsyncSession) -> dict[str, Entry]:
    rows = (await db.exec(select(Synonym.term, Synonym.expansion))).all()
    return merge((term, expansion) for term, expansion in rows)


async def set_entry(db: AsyncSession, term: str, expansion: str, now: datetime) -> Synonym:
    """Adds or changes a row (the caller commits)."""
    key = clean_term(term)
    row = (await db.exec(select(Synonym).where(Synonym.term == key))).first()
    if row is None:
        row = Synonym(term=key, expansion=expansion, updated_at=now)
    else:
        row.expansion, row.updated_at = expansion, now
    db.add(row)
    await db.flush()
    return row


async def remove(db: AsyncSession, term: str, now: datetime) -> bool:
    """Stops a term from expanding: deletes its row, and switches a default off with an
    empty row. False when the term is neither in the table nor a default."""
    key = clean_term(term)
    if key in {clean_term(t) for t in DEFAULTS}:
        await set_entry(db, key, "", now)
        return True
    row = (await db.exec(select(Synonym).where(Synonym.term == key))).first()
    if row is None:
        return False
    await db.delete(row)
    await db.flush()
    return True
