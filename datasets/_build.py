"""Rebuild the shipped evaluation datasets from local copies of their public sources.

The source folder holds the JSONL extracts named in each dataset's README
(`halueval_qa_500.jsonl`, `hatecheck_3728.jsonl`, `davidson_hate_offensive_2k.jsonl`,
`truthfulqa_judge_info_2k.jsonl`, `llmbar_pairwise_885.jsonl`).

Each output line is one evaluation row in the shape `evaluate()` reads: `inputs`, `outputs`,
`expectations`, `context`, `metadata`. Sampling uses a fixed seed, so a rebuild from the same
sources gives the same files. Sources and licences are listed in `datasets/README.md`.

Usage:
    python datasets/_build.py /path/to/source/jsonl/folder
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 20240611
LLMBAR_MIT_SUBSETS = ("LLMBar/",)  # the Processed/* subsets derive from other-licensed data


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write(name: str, rows: Iterable[dict[str, Any]]) -> int:
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=False) for r in rows]
    (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def rag_qa(src: Path, questions: int = 100) -> list[dict[str, Any]]:
    """HaluEval QA: per question, the right answer and a hallucinated one (two rows)."""
    items = _read(src / "halueval_qa_500.jsonl")
    picked = sorted(random.Random(SEED).sample(range(len(items)), questions))
    rows = []
    for pair, i in enumerate(picked):
        item = items[i]
        for faithful, answer in (
            (True, item["right_answer"]),
            (False, item["hallucinated_answer_one_turn"]),
        ):
            rows.append(
                {
                    "inputs": {"question": item["question"]},
                    "outputs": answer,
                    "context": [item["knowledge"]],
                    "expectations": {
                        "expected_response": item["right_answer"],
                        "faithful": faithful,
                    },
                    "metadata": {"pair": pair, "source_index": i},
                }
            )
    return rows


def toxicity_hatecheck(src: Path) -> list[dict[str, Any]]:
    """HateCheck, every test case: the text to judge is the output."""
    return [
        {
            "inputs": {"case_id": r["case_id"]},
            "outputs": r["text"],
            "expectations": {"toxic": bool(r["toxic"]), "label": r["label"]},
            "metadata": {"functionality": r["functionality"], "target_ident": r["target_ident"]},
        }
        for r in _read(src / "hatecheck_3728.jsonl")
    ]


def toxicity_davidson(src: Path) -> list[dict[str, Any]]:
    """Davidson et al. tweets (the shared 2,000-row sample)."""
    return [
        {
            "inputs": {"tweet_id": r["id"]},
            "outputs": r["text"],
            "expectations": {"toxic": bool(r["toxic"]), "label": r["label"]},
            "metadata": {k: r[k] for k in ("n_annotators", "n_hate", "n_offensive", "n_neither")},
        }
        for r in _read(src / "davidson_hate_offensive_2k.jsonl")
    ]


def relevance_truthfulqa(src: Path, per_label: int = 250) -> list[dict[str, Any]]:
    """TruthfulQA judge data, balanced: does the answer address the question."""
    items = _read(src / "truthfulqa_judge_info_2k.jsonl")
    rng = random.Random(SEED)
    picked: list[int] = []
    for label in (0, 1):
        pool = [i for i, r in enumerate(items) if r["informative"] == label]
        picked += rng.sample(pool, per_label)
    return [
        {
            "inputs": {"question": items[i]["question"]},
            "outputs": items[i]["answer"],
            "expectations": {"relevant": items[i]["informative"] == 1},
            "metadata": {"source_index": i},
        }
        for i in sorted(picked)
    ]


def pairwise_llmbar(src: Path) -> list[dict[str, Any]]:
    """LLMBar pairs from the MIT-licensed LLMBar subsets only."""
    return [
        {
            "inputs": {"instruction": r["input"]},
            "outputs": {"output_1": r["output_1"], "output_2": r["output_2"]},
            "expectations": {"better": r["label"]},
            "metadata": {"subset": r["subset"], "idx": r["idx"]},
        }
        for r in _read(src / "llmbar_pairwise_885.jsonl")
        if r["subset"].startswith(LLMBAR_MIT_SUBSETS)
    ]


def main(src: Path) -> None:
    builds = {
        "rag_qa_halueval_200.jsonl": rag_qa,
        "toxicity_hatecheck_3728.jsonl": toxicity_hatecheck,
        "toxicity_davidson_2k.jsonl": toxicity_davidson,
        "relevance_truthfulqa_500.jsonl": relevance_truthfulqa,
        "pairwise_llmbar_419.jsonl": pairwise_llmbar,
    }
    for name, build in builds.items():
        print(f"{name}: {_write(name, build(src))} rows")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
