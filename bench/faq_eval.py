"""How well the procedure search answers citizens' questions, and how fast.

    python -m bench.faq_eval [--catalogue PATH] [--questions PATH] [--misses] [--priority]

Builds the index from the real catalogue (../shared/data/procedures/procedures.json, read
where it lies, never copied) and, when it exists, from bot/faq/default_catalogue.json too;
runs the labelled questions (tests/data/faq_questions.jsonl, or the small fixed subset
tests/data/faq_subset.jsonl while the full set is not there). A question lists the codes
that count as a right answer, or none when the catalogue has no answer (on the small default
catalogue, a question about a procedure it lacks counts as one without answer). Prints
recall@1, recall@3 and MRR on the answerable questions, the share of the others declined
(verdict "nothing"), what decide() did, and the p50 / p95 latency of decide()."""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.faq.search import FaqIndex, build_from_records
from storage.procedures import Procedure

# The portal's citizen_priority (0–2) helps the ranking, but the bot has it only when the
# procedures table stores it: the figures follow what the bot would see.
PRIORITY_STORED = "priority" in Procedure.model_fields

ROOT = Path(__file__).resolve().parents[1]
REAL_CATALOGUE = Path(os.environ.get(
    "FAQ_CATALOGUE", ROOT.parent / "shared" / "data" / "procedures" / "procedures.json"))
DEFAULT_CATALOGUE = ROOT / "bot" / "faq" / "default_catalogue.json"
FULL_QUESTIONS = ROOT / "tests" / "data" / "faq_questions.jsonl"
SUBSET_QUESTIONS = ROOT / "tests" / "data" / "faq_subset.jsonl"


@dataclass(frozen=True)
class Question:
    q: str
    codes: tuple[str, ...]


@dataclass
class Figures:
    answerable: int = 0
    unanswerable: int = 0
    recall_1: float = 0.0
    recall_3: float = 0.0
    mrr: float = 0.0
    declined: float | None = None  # share of the unanswerable ones declined
    answered_right: float = 0.0  # answerable: verdict "answer" with a right code
    answered_wrong: float = 0.0  # answerable: verdict "answer" with a wrong code
    offered: float = 0.0  # answerable: verdict "candidates" including a right code
    wrongly_declined: float = 0.0  # answerable: verdict "nothing"
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    misses: list[tuple[str, tuple[str, ...], list[str], str]] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            questions.append(Question(item["q"], tuple(item.get("codes") or ())))
    return questions


def load_records(path: Path, priority: bool = PRIORITY_STORED) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    records = list(data["procedures"] if isinstance(data, dict) else data)
    if not priority:
        records = [{k: v for k, v in r.items() if k not in ("priority", "citizen_priority")}
                   for r in records]
    return records


def evaluate(index: FaqIndex, questions: list[Question]) -> Figures:
    figures = Figures()
    known = set(index.codes)
    hit1 = hit3 = 0
    reciprocal = 0.0
    verdicts: Counter[str] = Counter()
    declined = 0
    latencies: list[float] = []
    for question in questions:
        started = time.perf_counter()
        verdict = index.decide(question.q)
        latencies.append(time.perf_counter() - started)
        # A question whose procedures this catalogue lacks has no answer here.
        right = {c for c in question.codes if c in known}
        if not right:
            figures.unanswerable += 1
            declined += verdict.kind == "nothing"
            if verdict.kind != "nothing":
                figures.misses.append((question.q, (), [m.code for m in verdict.matches],
                                       verdict.kind))
            continue
        figures.answerable += 1
        ranked = [m.code for m in index.search(question.q, limit=10)]
        rank = next((i for i, code in enumerate(ranked, 1) if code in right), None)
        hit1 += rank == 1
        hit3 += rank is not None and rank <= 3
        reciprocal += 1 / rank if rank else 0.0
        shown = {m.code for m in verdict.matches}
        if verdict.kind == "answer":
            verdicts["right" if shown & right else "wrong"] += 1
        elif verdict.kind == "candidates":
            verdicts["offered" if shown & right else "offered_wrong"] += 1
        else:
            verdicts["declined"] += 1
        if rank != 1 or verdict.kind != "answer":
            figures.misses.append((question.q, question.codes, ranked[:3], verdict.kind))
    n = figures.answerable or 1
    figures.recall_1, figures.recall_3, figures.mrr = hit1 / n, hit3 / n, reciprocal / n
    figures.answered_right = verdicts["right"] / n
    figures.answered_wrong = verdicts["wrong"] / n
    figures.offered = verdicts["offered"] / n
    figures.wrongly_declined = verdicts["declined"] / n
    if figures.unanswerable:
        figures.declined = declined / figures.unanswerable
    latencies.sort()
    if latencies:
        figures.p50_ms = statistics.median(latencies) * 1000
        figures.p95_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] * 1000
    return figures


def report(label: str, built_s: float, size: int, figures: Figures, questions: Path) -> str:
    declined = "n/a" if figures.declined is None else f"{figures.declined:.3f}"
    return (
        f"faq[{label}: {size} procedures, index built in {built_s:.2f} s; "
        f"{questions.name}: {figures.answerable} answerable, {figures.unanswerable} without "
        f"answer]\n"
        f"  recall@1 {figures.recall_1:.3f}, recall@3 {figures.recall_3:.3f}, "
        f"MRR {figures.mrr:.3f}; no-answer declined {declined}\n"
        f"  decide() on answerable: answered right {figures.answered_right:.3f}, "
        f"answered wrong {figures.answered_wrong:.3f}, offered among candidates "
        f"{figures.offered:.3f}, declined {figures.wrongly_declined:.3f}\n"
        f"  decide() latency p50 {figures.p50_ms:.2f} ms, p95 {figures.p95_ms:.2f} ms"
    )


def run(catalogue: Path, questions_path: Path, label: str, misses: bool,
        priority: bool = PRIORITY_STORED) -> Figures:
    started = time.perf_counter()
    index = build_from_records(load_records(catalogue, priority))
    built = time.perf_counter() - started
    gc.collect()  # the parsed file is garbage now: measure queries, not its collection
    questions = load_questions(questions_path)
    figures = evaluate(index, questions)
    print(report(label, built, len(index), figures, questions_path))
    if misses:
        for q, codes, got, kind in figures.misses:
            print(f"    {kind:10} {q!r} want {list(codes)} got {got}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogue", type=Path, default=REAL_CATALOGUE)
    parser.add_argument("--questions", type=Path, default=None)
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    parser.add_argument("--priority", action="store_true",
                        help="also rank with the catalogue's citizen_priority, as the bot "
                             "would if the procedures table stored it")
    args = parser.parse_args()
    questions = args.questions or (FULL_QUESTIONS if FULL_QUESTIONS.exists()
                                   else SUBSET_QUESTIONS)
    if not args.catalogue.exists():
        print(f"faq: the catalogue {args.catalogue} is missing; set FAQ_CATALOGUE.")
        return
    run(args.catalogue, questions, "real catalogue", args.misses)
    if args.priority and not PRIORITY_STORED:
        run(args.catalogue, questions, "real catalogue with priority", args.misses, True)
    if questions != SUBSET_QUESTIONS and SUBSET_QUESTIONS.exists():
        run(args.catalogue, SUBSET_QUESTIONS, "real catalogue", args.misses)
    if DEFAULT_CATALOGUE.exists():
        run(DEFAULT_CATALOGUE, questions, "default catalogue", args.misses)


if __name__ == "__main__":
    main()
