"""Preference data: local files, hub loading (mocked), both row schemas, validation, held-out
split, truncation."""

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
    BadRow,
    DataConfig,
    FittedIds,
    PreferencePair,
    fit_to_length,
    held_out_groups,
    load_preference_data,
    prompts,
    row_problems,
)
from rlhf_text.data_schemas import ASSISTANT, detect_schema, split_hh_dialogues
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


# --- the two schemas: prompt/chosen/rejected and Anthropic HH's whole dialogues ----------

PCR_ROWS = [
    {
        "prompt": "\n\nHuman: How do I bake bread?\n\nAssistant:",
        "chosen": " Mix flour, water, yeast and salt, let it rise, then bake it.",
        "rejected": " I don't know.",
    },
    {  # multi-turn: the earlier Assistant turn belongs to the prompt
        "prompt": "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: "
        "What is the capital of France?\n\nAssistant: Let me think.\n\nHuman: And?"
        "\n\nAssistant:",
        "chosen": " Paris.",
        "rejected": " I'd rather not say.",
    },
    {  # the answers share a start, which stays in the answers, not the prompt
        "prompt": "\n\nHuman: Name a prime number.\n\nAssistant:",
        "chosen": " The answer is 7.",
        "rejected": " The answer is 8.",
    },
    {
        "prompt": "\n\nHuman: Is the sky blue?\n\nAssistant:",
        "chosen": " Yes, because air scatters blue light most.",
        "rejected": " Go away.",
    },
]
PAIRS = [PreferencePair(**row) for row in PCR_ROWS]


def as_hh(row: dict[str, str]) -> dict[str, str]:
    """The same comparison as Anthropic/hh-rlhf holds it: two whole dialogues."""
    return {"chosen": row["prompt"] + row["chosen"], "rejected": row["prompt"] + row["rejected"]}


HH_ROWS = [as_hh(row) for row in PCR_ROWS]


def write_rows(path: Path, rows: list) -> Path:
    if path.suffix == ".parquet":
        pa = pytest.importorskip("pyarrow")
        pytest.importorskip("pyarrow.parquet").write_table(pa.Table.from_pylist(rows), path)
        return path
    return write_jsonl(path, rows)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_both_schemas_load_into_the_same_pairs(tmp_path, suffix):
    found = {}
    for name, rows in (("prompt_chosen_rejected", PCR_ROWS), ("hh_dialogue", HH_ROWS)):
        path = write_rows(tmp_path / f"{name}{suffix}", rows)
        found[name] = load_preference_data(DataConfig(source=str(path), eval_fraction=0.0))
        assert found[name].report.schema == name and found[name].report.skipped == 0
    assert found["hh_dialogue"].train == found["prompt_chosen_rejected"].train == PAIRS
    assert [pair.chosen_text for pair in found["hh_dialogue"].train] == [
        row["chosen"] for row in HH_ROWS
    ]


def test_hh_dialogues_split_after_the_last_assistant_turn():
    prompt, chosen, rejected = split_hh_dialogues(HH_ROWS[1]["chosen"], HH_ROWS[1]["rejected"])
    assert (prompt, chosen, rejected) == (PCR_ROWS[1]["prompt"], " Paris.", " I'd rather not say.")
    assert prompt.count(ASSISTANT) == 3 and prompt.endswith(ASSISTANT)
    assert split_hh_dialogues(HH_ROWS[2]["chosen"], HH_ROWS[2]["rejected"])[1:] == (
        " The answer is 7.",
        " The answer is 8.",
    )


def malformed_hh_file(tmp_path: Path) -> Path:
    rows = [
        HH_ROWS[0],
        {  # the human's first turn differs ("Hi" / "Hey"): not one prompt
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant: Bye!",
            "rejected": "\n\nHuman: Hey\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant: Go.",
        },
        {"chosen": "\n\nHuman: Hi? Assistant: Hello.", "rejected": "\n\nHuman: Hi? No."},
        {"chosen": "\n\nHuman: Hi?\n\nAssistant: Hello.", "rejected": "Hello."},
        {
            "chosen": "\n\nHuman: Hi?\n\nAssistant: Same.",
            "rejected": "\n\nHuman: Hi?\n\nAssistant: Same. ",
        },
        HH_ROWS[1],
    ]
    return write_jsonl(tmp_path / "hh.jsonl", rows)


MALFORMED_HH_REASONS = [
    (2, "'chosen' and 'rejected' differ before the last Assistant turn (at character 10)"),
    (3, "no '\\n\\nAssistant:' turn in 'chosen' or 'rejected'"),
    (4, "no '\\n\\nAssistant:' turn in 'rejected'"),
    (5, "chosen == rejected"),
]


def test_malformed_hh_rows_are_refused_with_their_reasons(tmp_path):
    with pytest.raises(ValueError) as info:
        load_preference_data(DataConfig(source=str(malformed_hh_file(tmp_path))))
    message = str(info.value)
    assert "4 bad rows" in message
    for number, reason in MALFORMED_HH_REASONS:
        assert f"train row {number}: {reason}" in message


def test_malformed_hh_rows_are_skipped_and_reported(tmp_path):
    config = DataConfig(str(malformed_hh_file(tmp_path)), eval_fraction=0.0, on_bad_rows="skip")
    data = load_preference_data(config)
    assert data.train == PAIRS[:2]
    assert data.report.bad_rows == [BadRow("train", n, why) for n, why in MALFORMED_HH_REASONS]


def test_schema_detection():
    parquet_like = [{"prompt": None, **row} for row in HH_ROWS]  # a null column, not a prompt
    assert detect_schema(PCR_ROWS) == ("prompt_chosen_rejected", "")
    assert detect_schema(HH_ROWS) == ("hh_dialogue", "")
    assert detect_schema(parquet_like + ["not a row"]) == ("hh_dialogue", "")
    assert detect_schema(PCR_ROWS[:2] + HH_ROWS[2:]) == (
        "prompt_chosen_rejected",
        "2 rows have no 'prompt' and fit hh_dialogue",
    )
    both = [{"prompt": "\n\nHuman: Hi?\n\nAssistant:", **row} for row in HH_ROWS]
    schema, ambiguity = detect_schema(both)
    assert schema == "prompt_chosen_rejected" and "4 rows hold whole dialogues" in ambiguity


def test_auto_names_the_schema_in_one_line_only_when_ambiguous(tmp_path, caplog):
    both = [{**row, "prompt": "\n\nHuman: Hi?\n\nAssistant:"} for row in HH_ROWS]
    with caplog.at_level(logging.WARNING, logger="rlhf_text.data_schemas"):
        load_preference_data(DataConfig(str(write_jsonl(tmp_path / "hh.jsonl", HH_ROWS))))
        assert caplog.records == []
        load_preference_data(DataConfig(str(write_jsonl(tmp_path / "both.jsonl", both))))
    (record,) = caplog.records
    assert "read as schema prompt_chosen_rejected" in record.getMessage()
    assert "set data.schema to choose" in record.getMessage()


def test_an_explicit_schema_is_used_as_given(tmp_path):
    hh = str(write_jsonl(tmp_path / "hh.jsonl", HH_ROWS))
    pcr = str(write_jsonl(tmp_path / "pcr.jsonl", PCR_ROWS))
    data = load_preference_data(DataConfig(hh, schema="hh_dialogue", eval_fraction=0.0))
    assert data.train == PAIRS and data.report.schema == "hh_dialogue"
    with pytest.raises(ValueError, match="train row 1: missing field 'prompt'"):
        load_preference_data(DataConfig(hh, schema="prompt_chosen_rejected"))
    with pytest.raises(ValueError, match="train row 1: no '.*Assistant:' turn in 'chosen' or"):
        load_preference_data(DataConfig(pcr, schema="hh_dialogue"))


def test_hub_hh_source_goes_through_the_same_conversion(monkeypatch):
    datasets = pytest.importorskip("datasets")
    splits = {"train": HH_ROWS[:3], "test": [HH_ROWS[3], {"chosen": "Hi", "rejected": "No"}]}
    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return datasets.Dataset.from_list(splits[split])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    config = DataConfig(source="Anthropic/hh-rlhf", eval_split="test", on_bad_rows="skip")
    data = load_preference_data(config)
    assert calls == [("Anthropic/hh-rlhf", "train"), ("Anthropic/hh-rlhf", "test")]
    assert (data.train, data.eval, data.report.schema) == (PAIRS[:3], PAIRS[3:], "hh_dialogue")
    reason = "no '\\n\\nAssistant:' turn in 'chosen' or 'rejected'"
    assert data.report.bad_rows == [BadRow("test", 2, reason)]


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
    assert config.schema == "auto"
    assert from_dict(DataConfig, {"schema": "hh_dialogue"}).schema == "hh_dialogue"
    choices = "auto, prompt_chosen_rejected, hh_dialogue"
    with pytest.raises(ValueError, match=f"schema must be one of {choices}; got 'hh'"):
        DataConfig(schema="hh")
    with pytest.raises(ValueError, match="schema: 'hh' is not one of"):
        from_dict(DataConfig, {"schema": "hh"})


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


def test_train_halves_are_disjoint_by_question_and_cover_the_train_split():
    whole = load_preference_data(DataConfig(max_rows=800))
    halves = [load_preference_data(DataConfig(max_rows=800, train_part=part)).train
              for part in ("first_half", "second_half")]  # fmt: skip
    assert sorted(map(repr, halves[0] + halves[1])) == sorted(map(repr, whole.train))
    rows = {(r["prompt"], r["chosen"], r["rejected"]): r for r in embedded_rows(0)}
    questions = [{rows[(p.prompt, p.chosen, p.rejected)]["question_id"] for p in half}
                 for half in halves]  # fmt: skip
    assert questions[0] and questions[1] and not questions[0] & questions[1]
    assert 0.35 < len(halves[0]) / len(whole.train) < 0.65
    with pytest.raises(ValueError, match="train_part"):
        DataConfig(train_part="third")
