"""Options as numbered lists where there are no buttons, and long texts split sensibly."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.i18n import Translator, load_catalog
from bot.messages import Option, Outgoing
from bot.rendering import numbered, pick_option, plain, split_text

VI = Translator("vi", load_catalog("vi"), ZoneInfo("Asia/Ho_Chi_Minh"))


def test_options_become_a_numbered_list_with_a_hint() -> None:
    out = Outgoing("Chọn:", (Option("Tiếng Việt", "lang:vi"), Option("Web", "", url="https://x.vn"),
                              Option("<English>", "lang:en")))
    text = numbered(out, VI)
    assert "1. Tiếng Việt" in text and "2. &lt;English&gt;" in text
    assert "🔗 Web: https://x.vn" in text
    assert "Trả lời bằng số" in text


def test_a_number_picks_the_option_offered_last() -> None:
    stored = ["lang:vi", "lang:en"]
    assert pick_option("2", stored) == "lang:en"
    assert pick_option(" 1. ", stored) == "lang:vi"
    assert pick_option("3", stored) is None
    assert pick_option("0", stored) is None
    assert pick_option("2 cái", stored) is None
    assert pick_option("1", []) is None


def test_plain_strips_our_markup_and_unescapes() -> None:
    assert plain("<b>Chào</b> &lt;An&gt; <a href=\"x\">link</a>") == "Chào <An> link"


def test_split_prefers_paragraph_boundaries() -> None:
    paragraphs = ["đoạn " + str(i) + " " + "x" * 1500 for i in range(6)]
    pieces = split_text("\n\n".join(paragraphs), 4096)
    assert len(pieces) == 3
    assert all(len(p) <= 4096 for p in pieces)
    assert pieces[0].startswith("đoạn 0") and pieces[1].startswith("đoạn 2")


@given(st.text(alphabet=st.sampled_from("ab \n"), min_size=0, max_size=3000),
       st.integers(min_value=20, max_value=500))
def test_split_never_exceeds_the_limit_and_keeps_the_words(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())
