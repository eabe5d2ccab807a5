"""Every labelled sample in tests/messages/ (shared corpus + our own hard cases) scored through parsers.parse."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_scoring import compare, pair_up, spurious_ids
from parsers import ParseOptions, parse

MESSAGES = Path(__file__).resolve().parents[1] / "messages"
CASES = sorted(p for p in MESSAGES.glob("*.eml") if p.with_suffix(".json").exists())
MIN_FULLY_CORRECT = 0.97
# mail written independently of the parser (tests/heldout): a regression bar at the measured
# figure, raised as the parser improves (70% when it was first measured)
HELDOUT = MESSAGES.parent / "heldout"
HELDOUT_CASES = sorted(p for p in HELDOUT.glob("*.eml") if p.with_suffix(".json").exists())
MIN_HELDOUT_CORRECT = 0.98


def _wants(label: dict) -> list[dict]:
    return label["requests"] if "requests" in label else [label]


def _problems(eml: Path) -> tuple[list[str], int]:
    label = json.loads(eml.with_suffix(".json").read_text())
    result = parse(eml.read_bytes(), ParseOptions())
    gots = [r.as_json() for r in result.requests]
    wants = _wants(label)
    problems: list[str] = []
    spurious = 0
    for want, got in pair_up(wants, gots):
        problems += compare(want, got)
        spurious += len(spurious_ids(want, got))
    if len(gots) > len(wants):
        problems.append(f"{len(gots) - len(wants)} extra request(s)")
    if result.error:
        problems.append(f"error {result.error}")
    return problems, spurious


def test_there_are_labelled_samples() -> None:
    assert len(CASES) >= 72


def test_corpus_fully_correct_and_no_spurious_ids() -> None:
    failures = {}
    total_spurious = 0
    for eml in CASES:
        problems, spurious = _problems(eml)
        total_spurious += spurious
        if problems:
            failures[eml.name] = problems
    correct = 1 - len(failures) / len(CASES)
    assert total_spurious == 0, {k: v for k, v in failures.items() if any("spurious" in p for p in v)}
    assert correct >= MIN_FULLY_CORRECT, f"{correct:.1%} fully correct; failures: {failures}"


def test_heldout_mail_at_least_its_measured_figure_and_no_spurious_ids() -> None:
    scored = {eml.name: _problems(eml) for eml in HELDOUT_CASES}
    assert len(scored) >= 60
    assert sum(spurious for _, spurious in scored.values()) == 0
    failures = {name: problems for name, (problems, _) in scored.items() if problems}
    correct = 1 - len(failures) / len(scored)
    assert correct >= MIN_HELDOUT_CORRECT, f"{correct:.1%} fully correct; failures: {failures}"


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_sample(eml: Path) -> None:
    """Per-sample view of the same scoring (a failure here names the sample and what differs)."""
    problems, spurious = _problems(eml)
    if spurious:
        pytest.fail(f"spurious IDs: {problems}")
    if problems:
        pytest.xfail("; ".join(problems))  # counted against the corpus threshold above
