"""Finding the procedure a citizen asks about: the same answer with or without diacritics,
synonyms and abbreviations, typos, quoted codes, the verdict; the floor the fixed question
subset must keep on the real national catalogue; and the catalogue a running bot searches,
rebuilt only when the procedures or the synonyms change."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from bench.faq_eval import (
    FULL_QUESTIONS,
    REAL_CATALOGUE,
    SUBSET_QUESTIONS,
    evaluate,
    load_questions,
    load_records,
)
from bot.app import App
from bot.clock import ManualClock
from bot.faq import synonyms as synonym_table
from bot.faq.catalogue import FaqCatalogue
from bot.faq.importer import import_procedures
from bot.faq.search import FaqIndex, Match, build_from_records
from bot.faq.text import has_marks


def record(code: str, name: str, field: str = "", documents: tuple[str, ...] = ()
           ) -> dict[str, Any]:
    return {"code": code, "name": name, "field": field, "level": "Cấp xã",
            "documents": [{"group": "", "name": d, "quantity": "1 bản chính"}
                          for d in documents],
            "channels": [{"channel": "Trực tiếp", "duration": "", "fee": "",
                          "description": ""}]}


# A small catalogue: the procedures citizens ask most about, and look-alikes around them.
CATALOGUE = [
    record("1.001193", "Thủ tục đăng ký khai sinh", "Hộ tịch",
           ("Tờ khai đăng ký khai sinh", "Giấy chứng sinh")),
    record("1.004884", "Thủ tục đăng ký lại khai sinh", "Hộ tịch",
           ("Tờ khai đăng ký lại khai sinh", "Bản sao giấy tờ chứng minh nội dung khai sinh")),
    record("1.003583", "Thủ tục đăng ký khai sinh lưu động", "Hộ tịch"),
    record("1.000656", "Thủ tục đăng ký khai tử", "Hộ tịch",
           ("Tờ khai đăng ký khai tử", "Giấy báo tử")),
    record("1.000894", "Thủ tục đăng ký kết hôn", "Hộ tịch", ("Tờ khai đăng ký kết hôn",)),
    record("1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch"),
    record("1.014061", "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên",
           "Cấp, quản lý căn cước"),
    record("1.014064", "Cấp lại thẻ căn cước", "Cấp, quản lý căn cước"),
    record("3.000346", "Cấp giấy phép lái xe", "Sát hạch, cấp giấy phép lái xe"),
    record("3.000348", "Cấp lại giấy phép lái xe", "Sát hạch, cấp giấy phép lái xe"),
    record("1.004194", "Đăng ký tạm trú", "Đăng ký, quản lý cư trú"),
    record("1.004222", "Đăng ký thường trú", "Đăng ký, quản lý cư trú"),
    record("1.012786", "Cấp lại Giấy chứng nhận do bị mất", "Đất đai",
           ("Đơn đăng ký biến động đất đai, tài sản gắn liền với đất",)),
    record("1.012783", "Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn "
                      "liền với đất", "Đất đai", ("Bản gốc Giấy chứng nhận đã cấp",)),
    record("1.001612", "Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động doanh "
                      "nghiệp (hộ kinh doanh)", ("Giấy đề nghị đăng ký hộ kinh doanh",)),
    record("3.000333", "Cấp Phiếu Lý lịch tư pháp cho công dân Việt Nam, người nước ngoài "
                      "đang cư trú tại Việt Nam", "Lý lịch tư pháp"),
    record("2.000639", "Cấp thẻ bảo hiểm y tế (thực hiện tại cấp tỉnh)", "Bảo hiểm y tế"),
    record("1.007607", "Chấm dứt hiệu lực mã số thuế", "Thuế"),
    record("1.007891", "Thủ tục hải quan đối với hàng hóa của người xuất cảnh, nhập cảnh",
           "Hải quan"),
    record("1.000107", "Cấp Giấy phép kinh doanh mua, bán vàng miếng", "Hoạt động ngoại hối"),
    record("1.002055", "Thay đổi người đại diện theo pháp luật của Văn phòng luật sư",
           "Luật sư"),
]


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return build_from_records(CATALOGUE)


def top(index: FaqIndex, query: str) -> str | None:
    found = index.search(query, limit=1)
    return found[0].code if found else None


@pytest.mark.parametrize(("accented", "plain", "code"), [
    ("Đăng ký khai sinh cho con", "dang ky khai sinh cho con", "1.001193"),
    ("Đăng ký lại khai sinh", "dang ki lai khai sinh", "1.004884"),
    ("Xin giấy xác nhận tình trạng hôn nhân", "xin giay xac nhan tinh trang hon nhan",
     "1.004873"),
    ("Đăng ký tạm trú ở đâu?", "dang ky tam tru o dau", "1.004194"),
    ("Thủ tục đăng ký kết hôn cần giấy tờ gì", "thu tuc dang ky ket hon can giay to gi",
     "1.000894"),
    ("Cấp lại giấy phép lái xe", "cap lai giay phep lai xe", "3.000348"),
])
def test_with_or_without_diacritics_the_same_procedure_comes_first(
        index: FaqIndex, accented: str, plain: str, code: str) -> None:
    assert has_marks(accented) and not has_marks(plain)
    assert top(index, accented) == code
    assert top(index, plain) == code


@pytest.mark.parametrize(("query", "code", "term"), [
    ("làm CCCD cho người từ 14 tuổi", "1.014061", "làm cccd"),
    ("CCCD bị mất", "1.014064", "cccd"),
    ("mất sổ đỏ thì làm sao", "1.012786", "mất sổ đỏ"),
    ("sổ đỏ cũ đổi sang sổ mới", "1.012783", "sổ đỏ"),
    ("đổi sổ hồng", "1.012783", "sổ hồng"),
    ("bằng lái xe bị mất", "3.000348", "bằng lái xe"),
    ("lam lltp o dau", "3.000333", "lltp"),
    ("làm thẻ BHYT", "2.000639", "bhyt"),
    ("nhập hộ khẩu cho vợ", "1.004222", "nhập hộ khẩu"),
    ("thuê trọ cần khai báo gì", "1.004194", "thuê trọ"),
    ("mở quán cà phê", "1.001612", "mở quán"),
    ("bố tôi mới mất, làm giấy chứng tử", "1.000656", "giấy chứng tử"),
])
def test_synonyms_and_abbreviations(index: FaqIndex, query: str, code: str,
                                    term: str) -> None:
    assert top(index, query) == code
    assert term in [t for t, _ in index.analyse(query).synonyms]


def test_an_admin_synonym_changes_what_a_question_finds() -> None:
    plain = build_from_records(CATALOGUE, {})
    assert top(plain, "cccd") is None  # no table: an abbreviation finds nothing
    custom = build_from_records(CATALOGUE, {"giấy khai sanh": "khai sinh", "cccd": "căn cước"})
    assert top(custom, "giay khai sanh") == "1.001193"
    assert top(custom, "cccd bị mất") == "1.014064"


def test_aspect_words_do_not_pick_the_procedure(index: FaqIndex) -> None:
    """"bao nhiêu tiền" asks for the fees, it does not make a fee procedure win."""
    analysis = index.analyse("đăng ký kết hôn bao nhiêu tiền")
    assert ("bao nhiêu tiền", "lệ phí") in analysis.synonyms
    assert all(t.weight == 0 or "phi" not in t.text for t in analysis.terms)
    assert top(index, "đăng ký kết hôn bao nhiêu tiền") == "1.000894"


@pytest.mark.parametrize(("query", "code", "written", "read_as"), [
    ("dang ky khia sinh", "1.001193", "khia", "khai"),  # letters swapped
    ("dang ky ket hom", "1.000894", "hom", "hon"),  # a neighbouring key
    ("cap lai the can cuco", "1.014064", "cuco", "cuoc"),
    ("đăng ký khaisinh", "1.001193", "khaisinh", "khai sinh"),  # words run together
    ("dangky tam tru", "1.004194", "dangky", "dang ki"),
])
def test_typos(index: FaqIndex, query: str, code: str, written: str, read_as: str) -> None:
    assert top(index, query) == code
    assert (written, read_as) in index.analyse(query).corrections


def test_a_quoted_code_is_an_answer(index: FaqIndex) -> None:
    verdict = index.decide("cho hỏi thủ tục 1.004194 cần gì")
    assert verdict.kind == "answer"
    assert verdict.matches == (Match("1.004194", "Đăng ký tạm trú", 100.0),)
    assert index.decide("thủ tục 9.999999").kind != "answer"  # not in the catalogue


def test_verdicts(index: FaqIndex) -> None:
    assert index.decide("").kind == "nothing"
    assert index.decide("???").kind == "nothing"
    assert index.decide("thời tiết ngày mai có mưa không").kind == "nothing"
    clear = index.decide("Thủ tục đăng ký kết hôn")
    assert clear.kind == "answer" and clear.matches[0].code == "1.000894"
    near = index.decide("đăng ký khai sinh")  # plain, again, mobile: one of three
    assert near.kind in ("answer", "candidates")
    assert near.matches[0].code == "1.001193" and len(near.matches) <= 3


def test_search_results(index: FaqIndex) -> None:
    found = index.search("khai sinh", limit=2)
    assert [m.code for m in found] == ["1.001193", "1.004884"]
    assert found[0].score > found[1].score > 0
    with pytest.raises(AttributeError):
        found[0].score = 1.0  # type: ignore[misc]  # Match is frozen
    assert index.search("zzzz qqqq") == []
    analysis = index.analyse("dang ky khai sinh")
    assert index.matched_terms(analysis, "1.001193")[:2] == ["dang", "ki"]
    assert "khai sinh" in index.matched_terms(analysis, "1.001193")
    assert index.matched_terms(analysis, "1.007607") == []


def test_an_empty_catalogue_answers_nothing() -> None:
    empty = build_from_records([])
    assert len(empty) == 0
    assert empty.search("khai sinh") == [] and empty.decide("khai sinh").kind == "nothing"


# -- the floor on the real catalogue -------------------------------------------------------------

# Measured on the 46 questions of tests/data/faq_subset.jsonl (2,906 procedures): recall@1
# 0.900, recall@3 1.000, MRR 0.942, no-answer declined 0.833, p95 about 1 ms. The floor sits
# a little below, so a change that loses quality fails here.
FLOOR = {"recall_1": 0.85, "recall_3": 0.95, "mrr": 0.90, "declined": 0.66}
# The full evaluation set (tests/data/faq_questions.jsonl, 323 questions), when present:
# measured recall@1 0.754, recall@3 0.935, MRR 0.843; the target is recall@3 ≥ 0.90.
FULL_FLOOR = {"recall_1": 0.72, "recall_3": 0.90, "mrr": 0.80}


@pytest.fixture(scope="module")
def national() -> FaqIndex:
    if not REAL_CATALOGUE.exists():
        pytest.skip(f"the national catalogue is not at {REAL_CATALOGUE}")
    started = time.perf_counter()
    built = build_from_records(load_records(REAL_CATALOGUE))
    assert time.perf_counter() - started < 15  # a few seconds on a laptop
    return built


def test_the_subset_is_as_written() -> None:
    questions = load_questions(SUBSET_QUESTIONS)
    assert len(questions) >= 40
    assert sum(not has_marks(q.q) for q in questions) >= len(questions) * 0.4
    assert sum(not q.codes for q in questions) >= 5


def test_the_fixed_subset_keeps_its_floor(national: FaqIndex) -> None:
    questions = load_questions(SUBSET_QUESTIONS)
    codes = {c for q in questions for c in q.codes}
    assert codes <= set(national.codes)  # every expected code is a real procedure
    figures = evaluate(national, questions)
    assert figures.recall_1 >= FLOOR["recall_1"], figures.misses
    assert figures.recall_3 >= FLOOR["recall_3"], figures.misses
    assert figures.mrr >= FLOOR["mrr"]
    assert figures.declined is not None and figures.declined >= FLOOR["declined"]
    assert figures.answered_wrong <= 0.05
    assert figures.p95_ms < 20


def test_the_full_question_set_meets_the_target(national: FaqIndex) -> None:
    if not FULL_QUESTIONS.exists():
        pytest.skip("tests/data/faq_questions.jsonl is not written yet")
    figures = evaluate(national, load_questions(FULL_QUESTIONS))
    assert figures.answerable >= 200
    assert figures.recall_3 >= FULL_FLOOR["recall_3"]
    assert figures.recall_1 >= FULL_FLOOR["recall_1"]
    assert figures.mrr >= FULL_FLOOR["mrr"]
    assert figures.p95_ms < 20


def test_accents_do_not_change_the_answer_on_the_real_catalogue(national: FaqIndex) -> None:
    pairs = [("Đăng ký thường trú cho con", "dang ky thuong tru cho con"),
             ("Cấp lại thẻ căn cước bị mất", "cap lai the can cuoc bi mat"),
             ("Hưởng trợ cấp thất nghiệp", "huong tro cap that nghiep"),
             ("Chứng thực di chúc", "chung thuc di chuc")]
    for accented, plain in pairs:
        assert top(national, accented) == top(national, plain), accented


# -- the catalogue of a running bot ---------------------------------------------------------------

def catalogue_bytes(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(records, ensure_ascii=False).encode()


async def test_the_index_is_built_once_and_rebuilt_on_change(app: App,
                                                             clock: ManualClock) -> None:
    services = app.services
    faq = FaqCatalogue(recheck_seconds=0)
    async with services.sessions() as db:
        empty = await faq.index(db)
        assert len(empty) == 0
        assert await faq.index(db) is empty  # nothing changed: the same index
    await import_procedures(services, catalogue_bytes(CATALOGUE[:5]))
    async with services.sessions() as db:
        first = await faq.index(db)
        assert len(first) == 5 and first is not empty
        assert await faq.index(db) is first
    # Another process imports a changed catalogue later: picked up by the next question.
    clock.advance(timedelta(minutes=5))
    renamed = [dict(CATALOGUE[0], name="Thủ tục đăng ký khai sinh (đã sửa)"), *CATALOGUE[1:5]]
    await import_procedures(services, catalogue_bytes(renamed))
    async with services.sessions() as db:
        second = await faq.index(db)
        assert second is not first
        assert second.search("thủ tục 1.001193", 1)[0].name.endswith("(đã sửa)")
    # So is a synonym an admin adds.
    clock.advance(timedelta(minutes=5))
    async with services.sessions() as db:
        assert top(second, "lấy nhau") != "1.000894"
        await synonym_table.set_entry(db, "lấy nhau", "kết hôn", clock.now())
        await db.commit()
        third = await faq.index(db)
        assert third is not second and top(third, "lấy nhau") == "1.000894"


async def test_the_revision_is_not_looked_up_on_every_question(app: App,
                                                               clock: ManualClock) -> None:
    services = app.services
    faq = FaqCatalogue(recheck_seconds=3600)
    await import_procedures(services, catalogue_bytes(CATALOGUE[:3]))
    async with services.sessions() as db:
        first = await faq.index(db)
    clock.advance(timedelta(minutes=1))
    await import_procedures(services, catalogue_bytes(CATALOGUE[:6]))
    async with services.sessions() as db:
        assert await faq.index(db) is first  # within the hour: not looked at yet
        faq.invalidate()  # an import in this process says so at once
        assert len(await faq.index(db)) == 6
