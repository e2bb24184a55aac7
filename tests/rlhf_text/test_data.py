"""Preference data: local files, hub loading (mocked), validation, held-out split, truncation."""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest

from agents.config import from_dict
from rlhf_text import default_data
from rlhf_text.data import (
    MAX_LISTED_BAD_ROWS,
    DataConfig,
    FittedIds,
    PreferencePair,
    fit_to_length,
    held_out_groups,
    load_preference_data,
    prompts,
    row_problems,
)
from rlhf_text.default_data import embedded_rows

EVASIVE_MARKERS = (
    "don't know",
    "don't really know",
    "not sure",
    "good question",
    "rather not",
    "can't",
    "ask someone else",
    "why do you want",
    "hard to say",
    "depends",
    "who knows",
    "forgot",
    "look it up",
)
_STOPWORD_TEXT = (
    "a an the and or of to in on for with at by is are be it its i you your my me do does how "
    "what why can could should would will this that there their they them we our as if so but "
    "not no any some all about from into than then when where which who"
)
STOPWORDS = set(_STOPWORD_TEXT.split())


def make_rows(num_prompts: int, per_prompt: int = 1) -> list[dict[str, str]]:
    return [
        {
            "prompt": f"\n\nHuman: Question number {p}?\n\nAssistant:",
            "chosen": f" A helpful answer {p}.{k}",
            "rejected": f" I don't know {p}.{k}",
        }
        for p in range(num_prompts)
        for k in range(per_prompt)
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def as_rows(pairs: list[PreferencePair]) -> list[dict[str, str]]:
    return [dataclasses.asdict(pair) for pair in pairs]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def has_repeated_trigram(text: str) -> bool:
    w = words(text)
    trigrams = list(zip(w, w[1:], w[2:], strict=False))
    return len(trigrams) != len(set(trigrams))


def is_evasive(text: str) -> bool:
    return any(marker in text.lower() for marker in EVASIVE_MARKERS)


def content_overlap(a: str, b: str) -> int:
    def content(text: str) -> set[str]:
        return {w for w in words(text) if w not in STOPWORDS and len(w) > 2}

    return len(content(a) & content(b))


# --- local files and the hub --------------------------------------------------------------


def test_jsonl_round_trip(tmp_path):
    rows = make_rows(6)
    path = write_jsonl(tmp_path / "prefs.jsonl", rows)
    data = load_preference_data(DataConfig(source=str(path), eval_fraction=0.0))
    assert as_rows(data.train) == rows and data.eval == []
    assert data.train[0].chosen_text == rows[0]["prompt"] + rows[0]["chosen"]
    assert data.report.loaded == 6 and data.report.skipped == 0


def test_json_list_and_named_splits(tmp_path):
    rows = make_rows(5)
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(rows))
    data = load_preference_data(DataConfig(source=str(listed), eval_fraction=0.0))
    assert as_rows(data.train) == rows

    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": rows[:3], "test": rows[3:]}))
    data = load_preference_data(DataConfig(source=str(split), eval_split="test"))
    assert as_rows(data.train) == rows[:3] and as_rows(data.eval) == rows[3:]
    with pytest.raises(ValueError, match="no split 'validation'"):
        load_preference_data(DataConfig(source=str(split), eval_split="validation"))
    with pytest.raises(ValueError, match="no split 'test'"):
        load_preference_data(DataConfig(source=str(listed), eval_split="test"))


def test_parquet_round_trip(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = make_rows(4)
    path = tmp_path / "prefs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    data = load_preference_data(DataConfig(source=str(path), eval_fraction=0.0))
    assert as_rows(data.train) == rows


def test_hub_source_goes_through_load_dataset(monkeypatch):
    datasets = pytest.importorskip("datasets")
    splits = {"train": make_rows(8), "test": make_rows(2)}
    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        rows = [{**row, "response": row["chosen"]} for row in splits[split]]  # rm-static's extra
        return datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_preference_data(DataConfig(source="Dahoas/rm-static", eval_split="test"))
    assert calls == [("Dahoas/rm-static", "train"), ("Dahoas/rm-static", "test")]
    assert as_rows(data.train) == splits["train"] and as_rows(data.eval) == splits["test"]

    calls.clear()
    data = load_preference_data(DataConfig(source="Dahoas/rm-static", eval_fraction=0.25))
    assert calls == [("Dahoas/rm-static", "train")]
    assert (len(data.train), len(data.eval)) == (6, 2)


def test_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_preference_data(DataConfig(source=str(tmp_path / "missing.jsonl")))
    path = write_jsonl(tmp_path / "prefs.jsonl", make_rows(3))
    with pytest.raises(ValueError, match="no named splits"):
        load_preference_data(DataConfig(source=str(path), eval_split="test"))
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_preference_data(DataConfig(source=str(tmp_path / "broken.json")))


def test_max_rows_caps_each_split_and_is_counted(tmp_path):
    path = write_jsonl(tmp_path / "prefs.jsonl", make_rows(10))
    data = load_preference_data(DataConfig(source=str(path), max_rows=4, eval_fraction=0.0))
    assert len(data.train) == 4
    assert (data.report.loaded, data.report.capped) == (4, 6)


# --- validation ----------------------------------------------------------------------------


def bad_file(tmp_path: Path) -> Path:
    good = make_rows(3)
    lines = [
        json.dumps(good[0]),
        json.dumps({"prompt": "\n\nHuman: hi\n\nAssistant:", "rejected": " no"}),
        json.dumps(good[1]),
        json.dumps({"prompt": "p", "chosen": " same", "rejected": "same "}),
        "{not json",
        json.dumps({"prompt": "p", "chosen": 3, "rejected": " x"}),
        "",
        json.dumps({"prompt": "p", "chosen": "   ", "rejected": " x"}),
        json.dumps(["a", "list"]),
        json.dumps(good[2]),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_are_all_reported_with_line_numbers(tmp_path):
    with pytest.raises(ValueError) as info:
        load_preference_data(DataConfig(source=str(bad_file(tmp_path))))
    message = str(info.value)
    assert "6 bad rows" in message
    for expected in (
        "train row 2: missing field 'chosen'",
        "train row 4: chosen == rejected",
        "train row 5: not valid JSON",
        "train row 6: 'chosen' is not a string (got int)",
        "train row 8: 'chosen' is empty",
        "train row 9: not a JSON object (got list)",
    ):
        assert expected in message
    assert "row 1:" not in message and "row 10:" not in message


def test_skip_mode_drops_counts_and_logs_bad_rows(tmp_path, caplog):
    config = DataConfig(source=str(bad_file(tmp_path)), on_bad_rows="skip", eval_fraction=0.0)
    with caplog.at_level(logging.WARNING, logger="rlhf_text.data"):
        data = load_preference_data(config)
    assert as_rows(data.train) == make_rows(3)
    report = data.report
    assert (report.loaded, report.skipped, report.train_rows) == (9, 6, 3)
    assert [bad.row for bad in report.bad_rows] == [2, 4, 5, 6, 8, 9]
    assert report.metrics()["data/skipped"] == 6.0
    assert "skipped 6 bad rows" in caplog.text and "train row 4: chosen == rejected" in caplog.text


def test_error_lists_at_most_the_limit_then_counts_the_rest(tmp_path):
    rows = [{"prompt": "p", "chosen": " x", "rejected": " x"}] * (MAX_LISTED_BAD_ROWS + 5)
    path = write_jsonl(tmp_path / "same.jsonl", rows)
    with pytest.raises(ValueError) as info:
        load_preference_data(DataConfig(source=str(path)))
    message = str(info.value)
    assert message.count("chosen == rejected") == MAX_LISTED_BAD_ROWS
    assert "... and 5 more" in message


def test_row_problems():
    assert row_problems({"prompt": "p", "chosen": " a", "rejected": " b", "extra": 1}) == []
    assert row_problems({"prompt": "p", "chosen": " a", "rejected": "a"}) == ["chosen == rejected"]
    assert row_problems({"prompt": None, "chosen": " a"}) == [
        "'prompt' is not a string (got NoneType)",
        "missing field 'rejected'",
    ]


def test_all_rows_bad_in_skip_mode_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "same.jsonl", [{"prompt": "p", "chosen": "x", "rejected": "x"}])
    with pytest.raises(ValueError, match="no training rows"):
        load_preference_data(DataConfig(source=str(path), on_bad_rows="skip"))


# --- held-out split ------------------------------------------------------------------------


def test_eval_fraction_split_is_by_prompt_deterministic_and_disjoint(tmp_path):
    path = write_jsonl(tmp_path / "prefs.jsonl", make_rows(50, per_prompt=3))
    config = DataConfig(source=str(path), eval_fraction=0.2, seed=3)
    first, again = load_preference_data(config), load_preference_data(config)
    assert first.train == again.train and first.eval == again.eval
    train_prompts, eval_prompts = set(prompts(first)), set(prompts(first, "eval"))
    assert len(eval_prompts) == 10 and len(train_prompts) == 40
    assert not train_prompts & eval_prompts
    assert len(first.eval) == 30 and first.report.shared_prompts == 0
    other = load_preference_data(dataclasses.replace(config, seed=4))
    assert set(prompts(other, "eval")) != eval_prompts


def test_held_out_groups_ignores_row_order_and_keeps_each_stratum_on_both_sides():
    groups = [f"g{i}" for i in range(30)]
    strata = ["a"] * 20 + ["b"] * 10
    held = held_out_groups(groups, 0.1, seed=0, strata=strata)
    assert held == held_out_groups(groups[::-1], 0.1, seed=0, strata=strata[::-1])
    assert len(held & set(groups[:20])) == 2 and len(held & set(groups[20:])) == 1
    assert held_out_groups(["only"], 0.5, seed=0) == set()
    assert held_out_groups(groups, 0.0, seed=0) == set()
    assert len(held_out_groups(["x", "y"], 0.01, seed=0)) == 1


def test_prompts_are_distinct_in_first_seen_order():
    pairs = [PreferencePair(p, " a", " b") for p in ["p2", "p1", "p2", "p3", "p1"]]
    assert prompts(pairs) == ["p2", "p1", "p3"]


# --- the length rule -----------------------------------------------------------------------


def test_fit_to_length_keeps_the_prompt_end_and_the_response_start():
    assert fit_to_length([1, 2, 3], [4, 5], max_prompt_len=4, max_len=8) == FittedIds(
        [1, 2, 3, 4, 5], 3, False
    )
    # prompt cut from the left to max_prompt_len, response then fills the rest
    assert fit_to_length([1, 2, 3, 4, 5, 6], [7, 8], 4, 8) == FittedIds([3, 4, 5, 6, 7, 8], 4, True)
    # the prompt is capped even when the whole would fit max_len
    assert fit_to_length([1, 2, 3, 4, 5], [], 3, 10) == FittedIds([3, 4, 5], 3, True)
    # response cut from the right so the whole fits
    assert fit_to_length([1, 2], [3, 4, 5, 6, 7], 4, 5) == FittedIds([1, 2, 3, 4, 5], 2, True)
    # both cut: the response keeps exactly max_len - max_prompt_len tokens
    ids, prompt_length, truncated = fit_to_length(list(range(10)), list(range(10, 20)), 4, 6)
    assert ids == [6, 7, 8, 9, 10, 11] and prompt_length == 4 and truncated
    assert fit_to_length((1, 2), (3,), 2, 2) == FittedIds([1, 2], 2, True)


@pytest.mark.parametrize(("max_prompt_len", "max_len"), [(0, 5), (6, 5), (-1, 3)])
def test_fit_to_length_rejects_impossible_budgets(max_prompt_len, max_len):
    with pytest.raises(ValueError, match="max_prompt_len"):
        fit_to_length([1], [2], max_prompt_len, max_len)


# --- config --------------------------------------------------------------------------------


def test_config_defaults_yaml_and_validation():
    config = DataConfig()
    assert (config.source, config.split, config.eval_split) == ("embedded", "train", None)
    assert (config.eval_fraction, config.on_bad_rows, config.max_rows, config.seed) == (
        0.1,
        "error",
        None,
        0,
    )
    loaded = from_dict(DataConfig, {"source": "x.jsonl", "on_bad_rows": "skip", "max_rows": 5})
    assert loaded == DataConfig(source="x.jsonl", on_bad_rows="skip", max_rows=5)
    for bad in ({"eval_fraction": 1.0}, {"max_rows": 0}, {"on_bad_rows": "warn"}, {"source": ""}):
        with pytest.raises(ValueError):
            DataConfig(**bad)


# --- the embedded default ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return embedded_rows(0)


def test_embedded_rows_size_schema_and_determinism(rows):
    assert 3000 <= len(rows) <= 5000
    assert all(row_problems(row) == [] for row in rows)
    for row in rows:
        assert row["prompt"].startswith("\n\nHuman: ") and row["prompt"].endswith("\n\nAssistant:")
        assert row["chosen"].startswith(" ") and row["rejected"].startswith(" ")
    assert embedded_rows(0) == rows
    assert embedded_rows(1) != rows
    assert len({(r["prompt"], r["chosen"], r["rejected"]) for r in rows}) == len(rows)
    assert {r["topic"] for r in rows} >= {"cooking", "gardening", "travel", "programming"}
    assert len({r["topic"] for r in rows}) >= 10
    assert any(r["prompt"].count("Human:") == 2 for r in rows)


def test_embedded_chosen_answers_are_concise_and_clean(rows):
    for row in rows:
        assert 8 <= len(row["chosen"].split()) <= 40, row["chosen"]
        assert not has_repeated_trigram(row["chosen"]), row["chosen"]
        assert not is_evasive(row["chosen"]), row["chosen"]
    vocabulary = {
        w for r in rows for key in ("prompt", "chosen", "rejected") for w in words(r[key])
    }
    assert len(vocabulary) < 4000


def test_embedded_rejected_answers_are_detectably_bad(rows):
    flagged = [has_repeated_trigram(r["rejected"]) or is_evasive(r["rejected"]) for r in rows]
    assert sum(flagged) / len(rows) > 0.6
    kinds = {kind: [r for r in rows if r["rejected_kind"] == kind] for kind in ("repetitive",)}
    assert all(has_repeated_trigram(r["rejected"]) for r in kinds["repetitive"])
    assert all(is_evasive(r["rejected"]) for r in rows if r["rejected_kind"] == "evasive")
    off_topic = [r for r in rows if r["rejected_kind"] == "off_topic"]
    assert len(off_topic) > 0.15 * len(rows)
    chosen_overlap = sum(content_overlap(r["prompt"], r["chosen"]) for r in off_topic)
    rejected_overlap = sum(content_overlap(r["prompt"], r["rejected"]) for r in off_topic)
    assert chosen_overlap > 3 * rejected_overlap


def test_embedded_eval_holds_out_whole_questions_from_every_topic(rows):
    data = load_preference_data(DataConfig())
    assert data.report.loaded == len(rows)
    assert 0.05 < len(data.eval) / len(rows) < 0.15
    assert not set(prompts(data)) & set(prompts(data, "eval"))
    question_of = {r["prompt"]: r["question_id"] for r in rows}
    train_questions = {question_of[p] for p in prompts(data)}
    eval_questions = {question_of[p] for p in prompts(data, "eval")}
    assert not train_questions & eval_questions
    topic_of = {r["question_id"]: r["topic"] for r in rows}
    assert {topic_of[q] for q in eval_questions} == {r["topic"] for r in rows}
    again = load_preference_data(DataConfig())
    assert again.eval == data.eval


def test_every_template_question_parses_with_answers():
    questions = default_data.all_questions()
    assert len(questions) >= 200
    assert len({q.question_id for q in questions}) == len(questions)
    assert all(q.answers and q.phrasings for q in questions)
    with pytest.raises(ValueError, match="cannot parse"):
        default_data.parse_dialogues("@ t | t\nwho: is this\n= An answer.")


def test_module_docstring_examples_are_real_rows(rows):
    section = default_data.__doc__.split("Example rows (seed 0)::")[1]
    examples = [ast.literal_eval(block) for block in re.findall(r"\n    (\{.*?\})", section, re.S)]
    assert len(examples) == 4
    actual = {(r["prompt"], r["chosen"], r["rejected"]) for r in rows}
    for example in examples:
        assert (example["prompt"], example["chosen"], example["rejected"]) in actual
