"""Vietnamese text as the search sees it.

Citizens type with or without diacritics, with the old or new tone placement ("hoà" /
"hòa"), "kí" or "ký". The index therefore keeps two forms of every syllable: the accented
one (NFC, lower case) and a folded one without diacritics (đ → d, final y after a consonant
→ i), and the same for syllable bigrams, so "dang ky khai sinh" and "đăng kí khai sinh" both
meet "Đăng ký khai sinh"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SYLLABLE = re.compile(r"[^\W_]+")
# "kí"/"ký", "lí"/"lý", "mĩ"/"mỹ", "sĩ"/"sỹ" are both correct spellings; "quy", "huy" are not
# of this kind (the y follows a vowel), nor "ngày" (a diphthong).
_I_Y = re.compile(r"^(b|c|ch|d|g|gh|h|k|kh|l|m|n|nh|p|ph|r|s|t|th|tr|v|x)y$")


def normalise(text: str) -> str:
    """NFC, lower case, one space between words."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def strip_marks(word: str) -> str:
    """A lower-case word without its diacritics (đ → d), nothing else changed."""
    return "".join(c for c in unicodedata.normalize("NFD", word.replace("đ", "d"))
                   if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """One lower-case syllable as the index compares it: without diacritics, "ky" as "ki";
    a number without leading zeros ("mức độ 02" is "mức 2")."""
    if word.isdigit():
        return word.lstrip("0") or "0"
    return _I_Y.sub(r"\1i", strip_marks(word))


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d, "ký" → "ki"), words kept, punctuation dropped."""
    return " ".join(fold_word(w) for w in syllables(text))


def syllables(text: str) -> list[str]:
    """The words of a text, normalised (Vietnamese writes one syllable per word)."""
    return _SYLLABLE.findall(normalise(text))


def has_marks(text: str) -> bool:
    """Whether the text carries any Vietnamese diacritic (the writer types with marks)."""
    return any(strip_marks(w) != w for w in syllables(text))


def bigrams(words: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


ACCENTED = "="  # the prefix that keeps accented terms apart from folded ones in the index


def terms(text: str) -> list[str]:
    """Every index term of a text: folded syllables and bigrams, then the accented ones
    (prefixed with `ACCENTED`, so "con" the word and "còn" folded do not add up)."""
    words = syllables(text)
    folded = [fold_word(w) for w in words]
    accented = [ACCENTED + w for w in words]
    return folded + bigrams(folded) + accented + [ACCENTED + b for b in bigrams(words)]
