"""How the search reads Vietnamese: NFC and lower case, the folded form without diacritics
(đ → d, kí = ký), syllables and bigrams in both forms, and the synonym table (defaults,
admins' rows over them, longest term first)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.faq import synonyms
from bot.faq.synonyms import DEFAULTS, SynonymMatcher, merge
from bot.faq.text import ACCENTED, fold, fold_word, has_marks, normalise, syllables, terms


def test_normalise_is_nfc_lower_case_and_single_spaces() -> None:
    decomposed = unicodedata.normalize("NFD", "  Đăng  KÝ\tkhai sinh\n")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert normalise(decomposed) == "đăng ký khai sinh"
    assert normalise(decomposed) == unicodedata.normalize("NFC", "đăng ký khai sinh")


@pytest.mark.parametrize(("written", "folded"), [
    ("Đăng ký khai sinh", "dang ki khai sinh"),
    ("ĐĂNG KÍ KẾT HÔN", "dang ki ket hon"),
    ("Giấy chứng nhận quyền sử dụng đất", "giay chung nhan quyen su dung dat"),
    ("thuỷ lợi, thủy sản", "thuy loi thuy san"),  # old and new tone placement alike
    ("Lý lịch tư pháp / lí lịch", "li lich tu phap li lich"),
    ("Mỹ Tho, mĩ thuật", "mi tho mi thuat"),
    ("quy định, huy động, ngày", "quy dinh huy dong ngay"),  # y after a vowel stays
    ("mức độ 02 và 2", "muc do 2 va 2"),  # numbers without leading zeros
    ("CCCD/CMND; số 079-123", "cccd cmnd so 79 123"),
])
def test_fold(written: str, folded: str) -> None:
    assert fold(written) == folded


def test_the_same_word_with_and_without_marks_folds_alike() -> None:
    assert fold_word("tạm") == fold_word("tam") == fold_word("TÂM".lower()) == "tam"
    assert fold_word("đ") == "d"


def test_syllables_and_marks() -> None:
    assert syllables("Cấp lại thẻ căn cước (CCCD)?") == ["cấp", "lại", "thẻ", "căn", "cước",
                                                        "cccd"]
    assert has_marks("dang ky khai sinh") is False
    assert has_marks("dang ky khai sính") is True
    assert has_marks("123 cccd") is False


def test_terms_hold_both_forms_and_bigrams() -> None:
    found = terms("Đăng ký tạm trú")
    assert found == [
        "dang", "ki", "tam", "tru",
        "dang ki", "ki tam", "tam tru",
        f"{ACCENTED}đăng", f"{ACCENTED}ký", f"{ACCENTED}tạm", f"{ACCENTED}trú",
        f"{ACCENTED}đăng ký", f"{ACCENTED}ký tạm", f"{ACCENTED}tạm trú",
    ]
    # A query without marks meets the folded half of the document's terms.
    assert set(terms("dang ky tam tru")) & set(found) == {"dang", "ki", "tam", "tru",
                                                          "dang ki", "ki tam", "tam tru"}


# -- the synonym table -----------------------------------------------------------------------

REQUIRED = ["cccd", "cmnd", "gplx", "sổ đỏ", "sổ hồng", "hộ khẩu", "ks", "đkkd", "bhyt", "bhxh",
            "hkd", "gpxd", "kt3", "lltp", "làm giấy", "mất", "làm lại", "bao nhiêu tiền",
            "ở đâu", "bằng lái", "thuê trọ", "bao lâu", "online"]


def test_the_default_table_is_large_and_covers_the_common_words() -> None:
    assert len(DEFAULTS) >= 60
    for term in REQUIRED:
        assert term in DEFAULTS, term
    assert DEFAULTS["cccd"].startswith("căn cước công dân")
    assert DEFAULTS["sổ đỏ"] == "giấy chứng nhận quyền sử dụng đất"
    assert DEFAULTS["lltp"] == "lý lịch tư pháp"
    for term, expansion in DEFAULTS.items():
        assert term == normalise(term), term
        assert expansion.strip() and len(expansion) <= synonyms.EXPANSION_MAX, term


def test_rows_win_over_defaults_and_an_empty_row_switches_one_off() -> None:
    merged = merge([("CCCD", "thẻ căn cước"), ("sổ đỏ", ""), ("giấy khai sanh", "khai sinh")])
    assert merged["cccd"].expansion == "thẻ căn cước" and merged["cccd"].source == "changed"
    assert merged["giấy khai sanh"].source == "custom"
    assert merged["ks"].source == "default"
    table = synonyms.active(merged)
    assert "sổ đỏ" not in table and table["cccd"] == "thẻ căn cước"
    assert merged["gplx"].phrases == ["giấy phép lái xe"]
    assert merge([], {"x": "a, b ,, c"})["x"].phrases == ["a", "b", "c"]


def test_the_longest_term_wins_and_terms_do_not_overlap() -> None:
    matcher = SynonymMatcher({"làm giấy": "cấp giấy", "giấy chứng tử": "khai tử",
                              "mất": "cấp lại", "mất bao lâu": "thời hạn giải quyết"})
    words = syllables("làm giấy chứng tử mất bao lâu")
    found = [(start, end, term) for start, end, term, _ in matcher.find(words, marked=True)]
    assert found == [(1, 4, "giấy chứng tử"), (4, 7, "mất bao lâu")]


def test_marks_decide_when_the_question_has_them() -> None:
    matcher = SynonymMatcher({"mất": "cấp lại", "ks": "khai sinh"})
    # "mặt" (a face) is not "mất" (lost) when the writer types marks...
    assert matcher.find(syllables("mặt đường"), marked=True) == []
    # ...but without marks "mat" may be either: the term is taken.
    assert [t for _, _, t, _ in matcher.find(syllables("mat giay ks"), marked=False)] == \
        ["mất", "ks"]
    # A term written without marks ("ks") matches in a question with marks.
    assert [t for _, _, t, _ in matcher.find(syllables("làm ks cho bé"), marked=True)] == \
        ["ks"]
