"""Finding the procedure a citizen asks about.

The index is built once (at start-up, or when the catalogue or the synonym table changed)
from the procedures' names, fields and documents: one BM25 index per field (bm25s), whose
scores are added with the field's weight, the name counting most. Each field holds folded
syllables and bigrams, and the accented ones beside them (see `bot.faq.text`); an
abbreviation of the catalogue ("thẻ BHYT") is indexed spelt out as well.

A question is read into weighted terms: its words and bigrams, the expansions of the
synonyms it contains, and for a word the catalogue never uses, the closest words it does use
(rapidfuzz), so "khia sinh" still finds "khai sinh". Filler words of questions ("cho tôi
hỏi", "như thế nào") count only inside bigrams ("nhà ở"). The best BM25 candidates are then
reranked by how much of each name the question covers, so "Đăng ký khai sinh" comes before
"Đăng ký lại khai sinh" when nobody said "lại". `decide` turns the ranking into what the
chat does: answer with one procedure, offer a few, or say the catalogue has nothing."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import bm25s
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.faq import synonyms as synonym_table
from bot.faq.synonyms import SynonymMatcher
from bot.faq.text import (
    ACCENTED,
    bigrams,
    fold_word,
    has_marks,
    normalise,
    strip_marks,
    syllables,
    terms,
)

log = logging.getLogger(__name__)

CODE_IN_TEXT = re.compile(r"(?<![\d.])\d{1,2}\.\d{6}(?![\d])")
CODE_SCORE = 100.0  # a procedure whose code the question quotes
MAX_WORDS = 60  # a question, not an essay


@dataclass(frozen=True)
class Tuning:
    """The knobs of the ranking, calibrated on bench/faq_eval.py."""

    name_weight: float = 1.0
    field_weight: float = 0.3
    documents_weight: float = 0.15
    bigram_weight: float = 1.0
    accented_weight: float = 0.3  # the accented forms, on top of the folded ones
    synonym_weight: float = 0.9
    expansion_damping: float = 1.0  # 0: no damping of long expansions; 1: by √(words ratio)
    replaced_weight: float = 0.3  # the words of a synonym term itself
    aspect_weight: float = 0.0
    ambiguous_weight: float = 0.3  # "toi", "can" without marks: a filler or a content word
    filler_bigram_weight: float = 0.5  # a bigram with a filler word: "nhà ở", "sinh cho"
    typo_weight: float = 1.0
    typo_min_length: int = 3  # shorter words are too easily another word
    typo_long: int = 7  # from this length, two edits are forgiven
    rare_df: int = 3  # a word found in fewer procedures than this may be a typo
    rare_weight: float = 0.3  # such a word, when a name word close to it was found
    k1: float = 1.2
    b: float = 0.75
    name_b: float = 0.5  # names: length matters less than in long texts
    # How much a citizen-facing procedure (the portal's priority 0–2) is preferred, when the
    # catalogue has priorities (none: no effect).
    prior_weight: float = 0.2
    # Reranking: a procedure whose name has many words the question lacks ("chấm dứt",
    # "đăng ký lại") gives way to the one that says just what was asked.
    coverage_weight: float = 0.5
    head_words: int = 10  # the words of a long name the coverage looks at (0: all)
    tail_weight: float = 0.0  # a word of the question found past the head counts this much
    rerank_depth: int = 50
    # decide(). Scores are compared in units of the catalogue's highest word rarity (idf),
    # so the same thresholds hold for 90 procedures or 3,000. "relative" is the share of
    # the question's achievable score the first procedure reaches.
    unknown_penalty: float = 0.4  # a word the catalogue never uses lowers "relative"
    answer_relative: float = 0.4
    answer_ratio: float = 0.9  # the second's score over the first's, at most, to answer
    candidate_relative: float = 0.2
    candidate_score: float = 1.0  # below it, only a question the procedure explains well
    strong_relative: float = 0.6  # (this much of it) still gets candidates: "đăng ký lại"
    candidate_keep: float = 0.5  # candidates shown: at least this share of the first's score


DEFAULT_TUNING = Tuning()

# Words of questions, not of procedures (accented). A question without marks drops their
# folded forms, unless the names use the same folded form for another word (see FaqIndex).
FILLER = frozenset("""
tôi mình em anh chị bạn ơi ạ nhé nhỉ vậy thế nào gì sao như cần phải không có được thì là
và với của cho hỏi muốn biết giúp làm thủ tục những các đâu bao nhiêu lâu mấy khi nếu
hiện nay ai đi xin vui lòng ad admin ko k dc đc hoặc này đó ở thể bị rồi chưa nữa nhờ
con bé cháu mới giờ luôn
""".split())
# Expansions that name a part of every procedure (its fees, duration, agency, documents):
# what the question asks about, not which procedure. They weigh `aspect_weight`, and the
# words of their terms ("bao nhiêu tiền") nothing.
ASPECTS = frozenset({"lệ phí", "thời hạn giải quyết", "cơ quan thực hiện", "thành phần hồ sơ",
                     "trực tuyến"})


class Indexable(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def documents(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Match:
    code: str
    name: str
    score: float


@dataclass(frozen=True)
class Verdict:
    kind: str  # "answer", "candidates" or "nothing"
    matches: tuple[Match, ...]
    relative: float = 0.0  # the top score over the best the question could reach


@dataclass(frozen=True)
class Term:
    text: str  # as in the index: folded, or ACCENTED + accented
    weight: float
    origin: str  # "word", "synonym" or "typo"


@dataclass(frozen=True)
class Analysis:
    """How a question was read: its terms, and what the admin may want to see."""

    query: str
    terms: tuple[Term, ...]
    synonyms: tuple[tuple[str, str], ...] = ()  # (term, expansion) applied
    corrections: tuple[tuple[str, str], ...] = ()  # (written, read as)
    unknown: tuple[str, ...] = ()  # words the catalogue never uses


@dataclass
class _Field:
    weight: float
    model: bm25s.BM25

    @property
    def vocabulary(self) -> dict[str, int]:
        return getattr(self.model, "vocab_dict", {})  # none before anything was indexed

    def df(self, term: str) -> int:
        """In how many procedures the field has the term (the index's posting list)."""
        token_id = self.vocabulary.get(term)
        if token_id is None:
            return 0
        indptr = self.model.scores["indptr"]
        return int(indptr[token_id + 1] - indptr[token_id])

    def has(self, term: str, at: int) -> bool:
        token_id = self.vocabulary.get(term)
        if token_id is None:
            return False
        scores = self.model.scores
        start, end = scores["indptr"][token_id], scores["indptr"][token_id + 1]
        return bool(np.any(scores["indices"][start:end] == at))

    def words(self) -> list[str]:
        """The folded single words of the field."""
        return [t for t in self.vocabulary
                if t and not t.startswith(ACCENTED) and " " not in t]


def _document_text(procedure: Indexable) -> str:
    names: list[str] = []
    for document in procedure.documents or []:
        name = str(document.get("name") or "").strip()
        if name and name not in names:
            names.append(name)
    return "\n".join(names)


def _accented_words(names: _Field) -> dict[str, int]:
    """The accented words of the names, with the number of names having each."""
    return {t[1:]: names.df(t) for t in names.vocabulary
            if t.startswith(ACCENTED) and " " not in t}


def _abbreviations(table: Mapping[str, str]) -> dict[str, list[str]]:
    """The terms of the synonym table that are abbreviations (no vowel: "bhyt", "tncn"),
    with the words they stand for."""
    found: dict[str, list[str]] = {}
    for term, expansion in table.items():
        words = syllables(term)
        if len(words) == 1 and not any(c in "aeiouy" for c in fold_word(words[0])):
            phrase = next((p for p in expansion.split(",") if p.strip()), "")
            if syllables(phrase):
                found[words[0]] = syllables(phrase)
    return found


def _spelt_out(words: list[str], abbreviations: Mapping[str, list[str]]) -> list[str]:
    """Words with each abbreviation followed by what it stands for ("thẻ BHYT" also says
    "thẻ bảo hiểm y tế"): the catalogue abbreviates where citizens do not, and back."""
    out: list[str] = []
    for word in words:
        out.append(word)
        out.extend(abbreviations.get(word, ()))
    return out


def _alias_terms(text: str, abbreviations: Mapping[str, list[str]]) -> list[str]:
    """The index terms the abbreviations of a text add."""
    words = syllables(text)
    if not any(w in abbreviations for w in words):
        return []
    written = terms(" ".join(_spelt_out(words, abbreviations)))
    have = set(terms(text))
    return [t for t in written if t not in have]


_QUALIFIERS = re.compile(r"[(;]")


def _head(name: str, words: int) -> str:
    """What a name says the procedure is, before its list of cases: up to the first
    parenthesis or semicolon, and at most `words` words."""
    head = _QUALIFIERS.split(name, maxsplit=1)[0]
    return " ".join(head.split()[:words]) if words else head


@dataclass(frozen=True)
class _NameWords:
    """A name's words with their rarity, and which of them are in its head."""

    rarity: dict[str, float]
    head: frozenset[str]


def _name_rarity(names: list[str], abbreviations: Mapping[str, list[str]],
                 head_words: int) -> list[_NameWords]:
    """Each name's words with their rarity: idf over the names of the accented word ("dừng"
    is rare where its folded "dung" is everywhere), keyed by the folded form questions are
    compared in. Generic words ("thủ tục") are left out; abbreviations are spelt out."""
    size = max(len(names), 1)

    def words_of(text: str) -> set[str]:
        return {w for w in _spelt_out(syllables(text), abbreviations)
                if w not in FILLER and w not in abbreviations}

    written = [words_of(name) for name in names]
    df: dict[str, int] = {}
    for words in written:
        for w in words:
            df[w] = df.get(w, 0) + 1
    found: list[_NameWords] = []
    for name, words in zip(names, written, strict=True):
        folded: dict[str, float] = {}
        for w in words:
            idf = math.log(1 + (size - df[w] + 0.5) / (df[w] + 0.5))
            key = fold_word(w)
            folded[key] = max(folded.get(key, 0.0), idf)
        head = frozenset(fold_word(w) for w in words_of(_head(name, head_words)))
        found.append(_NameWords(folded, head))
    return found


class FaqIndex:
    def __init__(self, codes: list[str], names: list[str], fields: list[_Field],
                 table: Mapping[str, str], tuning: Tuning,
                 priorities: list[int] | None = None) -> None:
        self.codes = codes
        self.names = names
        self.tuning = tuning
        self.synonyms = dict(table)
        self._fields = fields
        self._matcher = SynonymMatcher(table)
        self._position = {code: i for i, code in enumerate(codes)}
        # The idf of a word found in one procedure: the unit of decide()'s thresholds.
        self._scale = math.log(1 + (len(codes) - 0.5) / 1.5) if codes else 1.0
        self._prior = [1 + tuning.prior_weight * min(max(p, 0), 2) / 2
                       for p in (priorities or [0] * len(codes))]
        # Words: in how many procedures each is found (any field); the names' own words
        # are what a misspelt word is corrected to.
        self._df: dict[str, int] = {}
        for f in fields:
            for word in f.words():
                self._df[word] = self._df.get(word, 0) + f.df(word)
        self._name_vocabulary = fields[0].words() if fields else []
        self._name_set = set(self._name_vocabulary)
        self._name_words = _name_rarity(names, _abbreviations(table), tuning.head_words)
        # Filler words whose folded form is also a word of the names ("bao" for bảo, "dau"
        # for đầu): a question without marks keeps them, weakly. The others are dropped.
        other_words: dict[str, set[str]] = {}
        for word, df in (_accented_words(fields[0]) if fields else {}).items():
            if df >= tuning.rare_df:
                other_words.setdefault(fold_word(word), set()).add(word)
        folded_fillers = {fold_word(w) for w in FILLER}
        self._ambiguous = {f for f in folded_fillers if other_words.get(f, set()) - FILLER}
        self._fillers = frozenset(folded_fillers - self._ambiguous)
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, procedures: Iterable[Indexable], synonyms: Mapping[str, str] | None = None,
              tuning: Tuning = DEFAULT_TUNING) -> FaqIndex:
        started = time.perf_counter()
        table = synonym_table.active(synonym_table.merge(())) if synonyms is None else synonyms
        items = sorted(procedures, key=lambda p: p.code)
        codes = [p.code for p in items]
        names = [p.name for p in items]
        texts = (
            (tuning.name_weight, tuning.name_b, names),
            (tuning.field_weight, tuning.b, [p.field or "" for p in items]),
            (tuning.documents_weight, tuning.b, [_document_text(p) for p in items]),
        )
        abbreviations = _abbreviations(table)
        fields: list[_Field] = []
        for weight, b, column in texts:
            model = bm25s.BM25(k1=tuning.k1, b=b)
            if column:
                model.index([terms(text) + _alias_terms(text, abbreviations) for text in column],
                            show_progress=False)
            fields.append(_Field(weight, model))
        # A popularity prior, when the catalogue has one (the portal's citizen priority).
        priorities = [int(getattr(p, "priority", 0) or 0) for p in items]
        index = cls(codes, names, fields, table, tuning, priorities)
        log.info("faq index: %d procedures, %d words, built in %.2f s", len(codes),
                 len(index._df), time.perf_counter() - started)
        return index

    def __len__(self) -> int:
        return len(self.codes)

    # -- reading a question ----------------------------------------------------------------

    def analyse(self, query: str) -> Analysis:
        tuning = self.tuning
        words = syllables(query)[:MAX_WORDS]
        folded = [fold_word(w) for w in words]
        marked = has_marks(query)
        weights: dict[str, tuple[float, str]] = {}

        def add(term: str, weight: float, origin: str) -> None:
            if weight > weights.get(term, (0.0, ""))[0]:
                weights[term] = (weight, origin)

        applied: list[tuple[str, str]] = []
        in_span = [False] * len(words)
        span_weight = [0.0] * len(words)
        for start, end, term, phrases in self._matcher.find(words, marked):
            if not marked and self._part_of_phrase(term, folded, start, end):
                continue
            applied.append((term, ", ".join(phrases)))
            content = [p for p in phrases if normalise(p) not in ASPECTS]
            for i in range(start, end):
                in_span[i] = True
                span_weight[i] = tuning.replaced_weight if content else 0.0
            # A few words spelt out in many ("sổ đỏ", seven words) stand for one thing: the
            # longer the expansion, the less each of its words weighs.
            longest = max(len(syllables(p)) for p in phrases)
            scale = min(1.0, math.sqrt((end - start) / longest)) ** tuning.expansion_damping
            for phrase in phrases:
                weight = (tuning.synonym_weight * scale if phrase in content
                          else tuning.aspect_weight)
                if weight > 0:
                    self._add_text(phrase, weight, "synonym", add)

        corrections: list[tuple[str, str]] = []
        unknown: list[str] = []
        # Each word as the index will see it: (folded, maybe corrected; its weight alone;
        # where it comes from; its weight in a bigram), or None when left out. A filler
        # word weighs nothing alone but still makes bigrams: "nhà ở" is not "ở".
        read: list[tuple[str, float, str, float] | None] = []
        for i, word in enumerate(words):
            if in_span[i]:
                read.append((folded[i], span_weight[i], "word", span_weight[i]))
            elif word in FILLER if marked else folded[i] in self._fillers:
                read.append((folded[i], 0.0, "word", tuning.filler_bigram_weight))
            else:
                around = (folded[i - 1] if i else "",
                          folded[i + 1] if i + 1 < len(words) else "")
                seen = self._read_word(word, folded[i], around, add, corrections, unknown)
                if seen is None:
                    read.append(None)
                elif not marked and folded[i] in self._ambiguous:
                    # "bao" may be "bao nhiêu" or "bảo hiểm": weak alone, whole in bigrams.
                    read.append((seen[0], seen[1] * tuning.ambiguous_weight, seen[2], 1.0))
                else:
                    read.append((*seen, seen[1]))

        for i, item in enumerate(read):
            if item is None or item[1] <= 0:
                continue
            text, weight, origin, _ = item
            add(text, weight, origin)
            if marked and origin == "word" and not in_span[i]:
                add(ACCENTED + words[i], weight * tuning.accented_weight, origin)
        for i in range(len(read) - 1):
            left, right = read[i], read[i + 1]
            if left is None or right is None or (in_span[i] and in_span[i + 1]):
                continue
            weight = min(left[3], right[3]) * tuning.bigram_weight
            if weight <= 0 or (left[1] <= 0 and right[1] <= 0 and not (in_span[i] or
                                                                        in_span[i + 1])):
                continue  # two filler words ("cho tôi") make no bigram worth searching
            origin = "typo" if "typo" in (left[2], right[2]) else "word"
            add(f"{left[0]} {right[0]}", weight, origin)
            if marked and origin == "word":
                add(f"{ACCENTED}{words[i]} {words[i + 1]}", weight * tuning.accented_weight,
                    origin)
        found = tuple(Term(t, w, o) for t, (w, o) in weights.items())
        return Analysis(query, found, tuple(applied), tuple(corrections), tuple(unknown))

    def _part_of_phrase(self, term: str, folded: list[str], start: int, end: int) -> bool:
        """Without marks, a one-word term may be another word: "doi" in "doi voi" is đối
        (với), not đổi. It is, when it makes a bigram of the names with a neighbour."""
        if end - start != 1 or strip_marks(term) == term:
            return False
        names = self._fields[0]
        before = folded[start - 1] if start else ""
        after = folded[end] if end < len(folded) else ""
        word = folded[start]
        return (names.df(f"{before} {word}") >= self.tuning.rare_df
                or names.df(f"{word} {after}") >= self.tuning.rare_df)

    def _read_word(self, word: str, folded: str, around: tuple[str, str], add: Any,
                   corrections: list[tuple[str, str]],
                   unknown: list[str]) -> tuple[str, float, str] | None:
        """A word as the index sees it. A word of the procedure names is taken as written;
        so is any other word the catalogue uses often enough, or one without a vowel (an
        abbreviation). A rare or unknown word may be a typo of a name word ("khia" for
        "khai"), or two words run together ("khaisinh")."""
        tuning = self.tuning
        df = self._df.get(folded, 0)
        if (folded in self._name_set or df >= tuning.rare_df
                or not any(c in "aeiouy" for c in folded)):
            return (folded, 1.0, "word") if df else None
        guess = (self._guess(folded, *around, careful=strip_marks(word) != word)
                 if len(folded) >= tuning.typo_min_length else None)
        joined = self._split(folded)
        if joined is not None and (guess is None or guess[1] < 1 - 1 / len(folded)):
            corrections.append((word, joined))
            for part in joined.split():
                add(part, tuning.typo_weight, "typo")
            add(joined, tuning.typo_weight * tuning.bigram_weight, "typo")
            return None
        if guess is None:
            if df:
                return folded, 1.0, "word"
            unknown.append(word)
            return None
        corrections.append((word, guess[0]))
        if df:
            add(folded, tuning.rare_weight, "word")  # the rare word may be meant after all
        return guess[0], tuning.typo_weight * guess[1], "typo"

    def _add_text(self, text: str, weight: float, origin: str, add: Any) -> None:
        """A phrase of the catalogue's language (a synonym's expansion), both forms."""
        words = syllables(text)
        folded = [fold_word(w) for w in words]
        accented = weight * self.tuning.accented_weight
        for t in folded:
            add(t, weight, origin)
        for t in bigrams(folded):
            add(t, weight * self.tuning.bigram_weight, origin)
        for w in words:
            add(ACCENTED + w, accented, origin)
        for t in bigrams(words):
            add(ACCENTED + t, accented * self.tuning.bigram_weight, origin)

    def _correct_uncached(self, folded: str) -> tuple[tuple[str, float], ...]:
        """The name words closest to a word the names never use, best first, each with how
        sure (0–1): one edit away (a transposition counts as one) for a short word, two for
        a long one; a word of the same length first ("hom" is more likely "hôn" than "hộ"),
        then the more common."""
        allowed = 1 if len(folded) < self.tuning.typo_long else 2
        found = process.extract(folded, self._name_vocabulary, scorer=DamerauLevenshtein.distance,
                                score_cutoff=allowed, limit=12)
        found.sort(key=lambda f: (f[1], abs(len(f[0]) - len(folded)), -self._df.get(f[0], 0)))
        return tuple((word, 1 - distance / max(len(folded), len(word)))
                     for word, distance, _ in found if distance == found[0][1])

    def _split(self, folded: str) -> str | None:
        """Two words run together ("khaisinh", "dangky"): the commonest bigram of the names
        and fields they can be cut into."""
        best, best_df = None, self.tuning.rare_df - 1
        for cut in range(1, len(folded)):
            bigram = f"{fold_word(folded[:cut])} {fold_word(folded[cut:])}"
            df = sum(f.df(bigram) for f in self._fields[:2])
            if df > best_df:
                best, best_df = bigram, df
        return best

    def _guess(self, folded: str, before: str, after: str,
               careful: bool) -> tuple[str, float] | None:
        """The correction that makes the commonest bigram of the names with a neighbour
        ("ket hom" → "kết hôn", not "kết hợp"), else the likeliest one. A word typed with
        its marks (`careful`) is more likely a word the catalogue lacks than a typo: it is
        corrected only into such a bigram ("khía sinh" → "khai sinh")."""
        guesses = self._correct(folded)
        if not guesses:
            return None
        names = self._fields[0]
        support = [names.df(f"{before} {word}") + names.df(f"{word} {after}")
                   for word, _ in guesses]
        best = max(range(len(guesses)), key=lambda i: (support[i], -i))
        if careful and not support[best]:
            return None
        return guesses[best]

    # -- ranking ---------------------------------------------------------------------------

    def _scores(self, analysis: Analysis) -> tuple[np.ndarray, float]:
        """Every procedure's score, and the best score the question could reach (each
        term's best procedure, added up)."""
        total = np.zeros(len(self.codes), dtype=np.float32)
        ideal = 0.0
        for term in analysis.terms:
            vector: np.ndarray | None = None
            for f in self._fields:
                token_id = f.vocabulary.get(term.text)
                if token_id is None:
                    continue
                scores = f.model.get_scores_from_ids([token_id]) * f.weight
                vector = scores if vector is None else vector + scores
            if vector is None:
                continue
            vector *= term.weight
            total += vector
            ideal += float(vector.max())
        ideal += self.tuning.unknown_penalty * self._scale * len(analysis.unknown)
        return total, ideal

    def _coverage(self, at: int, words: set[str]) -> float:
        """How much of the procedure's name (by rarity) the question's words cover. Words
        the question lacks count against it only in the head of the name: a long name
        lists cases ("… trong các trường hợp chuyển đổi, chuyển nhượng, thừa kế, tặng
        cho …") and a question asks for one."""
        name = self._name_words[at]
        tail = self.tuning.tail_weight
        covered = sum(idf * (1.0 if w in name.head else tail)
                      for w, idf in name.rarity.items() if w in words)
        missed = sum(idf for w, idf in name.rarity.items()
                     if w not in words and w in name.head)
        return covered / (covered + missed) if covered + missed > 0 else 0.0

    def _quoted(self, query: str) -> list[Match]:
        """The procedures whose codes the question quotes ("thủ tục 1.001193")."""
        found: list[Match] = []
        for code in CODE_IN_TEXT.findall(query):
            at = self._position.get(code)
            if at is not None and all(m.code != code for m in found):
                found.append(Match(code, self.names[at], CODE_SCORE))
        return found

    def _ranked(self, analysis: Analysis, limit: int) -> tuple[list[Match], list[float], float]:
        """The best matches; their evidence (the score before the popularity prior, which
        orders equals but is no evidence the question was understood); the best score
        the question could reach."""
        quoted = self._quoted(analysis.query)
        if quoted:
            return quoted[:limit], [CODE_SCORE] * len(quoted[:limit]), CODE_SCORE
        if not self.codes or not analysis.terms:
            return [], [], 0.0
        total, ideal = self._scores(analysis)
        depth = max(1, min(max(limit, self.tuning.rerank_depth), len(self.codes)))
        top = np.argpartition(-total, depth - 1)[:depth] if depth < len(total) else \
            np.arange(len(total))
        words = {t.text for t in analysis.terms if " " not in t.text and t.weight > 0}
        keep = 1 - self.tuning.coverage_weight
        scored = []
        for i in map(int, top):
            if total[i] <= 0:
                continue
            evidence = float(total[i]) * (keep + self.tuning.coverage_weight
                                          * self._coverage(i, words))
            scored.append((evidence * self._prior[i], evidence, i))
        scored.sort(key=lambda s: (-s[0], self.codes[s[2]]))
        best = scored[:limit]
        return ([Match(self.codes[i], self.names[i], round(score, 4)) for score, _, i in best],
                [evidence for _, evidence, _ in best], ideal)

    def search(self, query: str, limit: int = 5) -> list[Match]:
        return self._ranked(self.analyse(query), limit)[0]

    def decide(self, query: str) -> Verdict:
        """What the chat should do: answer with one procedure (clearly the best, and
        explaining most of the question), offer up to three, or say there is nothing."""
        tuning = self.tuning
        matches, evidence, ideal = self._ranked(self.analyse(query), 3)
        if not matches:
            return Verdict("nothing", ())
        top = evidence[0]
        relative = min(top / ideal, 1.0) if ideal > 0 else 0.0
        weak = top < tuning.candidate_score * self._scale and relative < tuning.strong_relative
        if weak or relative < tuning.candidate_relative:
            return Verdict("nothing", (), relative)
        second = matches[1].score if len(matches) > 1 else 0.0
        if relative >= tuning.answer_relative and second <= matches[0].score * tuning.answer_ratio:
            return Verdict("answer", (matches[0],), relative)
        shown = tuple(m for m in matches if m.score >= matches[0].score * tuning.candidate_keep)
        return Verdict("candidates", shown, relative)

    def matched_terms(self, analysis: Analysis, code: str) -> list[str]:
        """The question's terms (readable, folded) the procedure contains, best first."""
        at = self._position.get(code)
        if at is None:
            return []
        shown: list[str] = []
        for term in sorted(analysis.terms, key=lambda t: -t.weight):
            if term.text.startswith(ACCENTED):
                continue
            if term.text not in shown and any(f.has(term.text, at) for f in self._fields):
                shown.append(term.text)
        return shown


def build_from_records(records: Sequence[Mapping[str, Any]],
                       synonyms: Mapping[str, str] | None = None,
                       tuning: Tuning = DEFAULT_TUNING) -> FaqIndex:
    """An index straight from catalogue records (the JSON shape), without a database."""
    return FaqIndex.build([_Record(r) for r in records], synonyms, tuning)


@dataclass(frozen=True)
class _Record:
    record: Mapping[str, Any]

    @property
    def code(self) -> str:
        return normalise(str(self.record.get("code") or "")).upper()

    @property
    def name(self) -> str:
        return str(self.record.get("name") or "")

    @property
    def field(self) -> str:
        return str(self.record.get("field") or "")

    @property
    def documents(self) -> list[dict[str, Any]]:
        return list(self.record.get("documents") or [])

    @property
    def priority(self) -> int:
        value = self.record.get("priority", self.record.get("citizen_priority", 0))
        return value if isinstance(value, int) else 0


