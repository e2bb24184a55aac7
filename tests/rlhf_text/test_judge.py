"""The gold judge and the degeneration measures: held-out data, new probe prompts, hand cases.

The judge is checked twice: on the embedded data's held-out rows (built without the held-out
questions, so their words are as new to it as a policy's), and on probe prompts written here,
none of them a question of the data, each with a good answer and six bad ones.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from envs.rewards.text import build_text_reward, evaluate_reward
from envs.rewards.text_base import TextReward
from rlhf_text import default_data
from rlhf_text.data import DataConfig, load_preference_data
from rlhf_text.default_data import (
    EVASIONS,
    RAMBLE_OPENERS,
    SUBJECT_CHANGES,
    all_questions,
    embedded_rows,
    format_prompt,
)
from rlhf_text.degeneration import (
    OverOptimisationMonitor,
    degeneration_stats,
    distinct_n,
    looks_looping,
    repeated_ngram_rates,
)
from rlhf_text.judge import TIE_TOLERANCE, GoldJudge, win_counts, win_rate
from rlhf_text.probes import BAD_KINDS, load_probes, probe_accuracy, probe_pairs

PROBES = load_probes()
"""the shipped probes (rlhf_text/assets/probes.jsonl): the first batch guided the judge's one
later term (``specific``, for generic filler); the second was written after every weight was
fixed and has never been tuned on"""


@pytest.fixture(scope="module")
def held_out() -> tuple[list, list[dict[str, str]]]:
    """The held-out pairs of the default split, with their embedded rows (topic, kind)."""
    data = load_preference_data(DataConfig())
    rows = {(r["prompt"], r["chosen"], r["rejected"]): r for r in embedded_rows(0)}
    return data.eval, [rows[(p.prompt, p.chosen, p.rejected)] for p in data.eval]


@pytest.fixture(scope="module")
def unseen_judge(held_out) -> GoldJudge:
    """A judge built without the held-out questions: their words are new to it."""
    held_ids = {row["question_id"] for row in held_out[1]}
    return GoldJudge([q for q in all_questions() if q.question_id not in held_ids])


@pytest.fixture(scope="module")
def judge() -> GoldJudge:
    return GoldJudge()


def _accuracy_by_kind(judge, pairs, kinds, rejected=None) -> dict[str, float]:
    prompts = [pair.prompt for pair in pairs]
    rejected = [pair.rejected for pair in pairs] if rejected is None else rejected
    better = judge.score(prompts, [p.chosen for p in pairs]) > judge.score(prompts, rejected)
    result = {"all": float(better.mean())}
    for kind in sorted(set(kinds)):
        result[kind] = float(better[[k == kind for k in kinds]].mean())
    return result


@pytest.mark.parametrize("which", ["unseen_judge", "judge"])
def test_judge_prefers_chosen_on_held_out_rows(request, held_out, which):
    pairs, rows = held_out
    accuracy = _accuracy_by_kind(
        request.getfixturevalue(which), pairs, [r["rejected_kind"] for r in rows]
    )
    assert len(pairs) == 416 and set(accuracy) == {"all", "repetitive", "evasive", "off_topic"}
    assert accuracy["all"] >= 0.95, accuracy
    assert min(accuracy.values()) >= 0.9, accuracy


def test_topic_terms_catch_off_topic_answers_without_their_openers(held_out, unseen_judge):
    """Most off-topic rows open with a RAMBLE_OPENER, which the evasion term knows; with the
    opener cut off, only the topic terms can tell the chosen answer from the other topic's."""
    openers = sorted((o.strip() for o in RAMBLE_OPENERS if o.strip()), key=len, reverse=True)

    def cut(text: str) -> str:
        text = text.strip()
        for opener in openers:
            text = text.removeprefix(opener)
        return " " + text.strip()

    pairs = [p for p, r in zip(*held_out, strict=True) if r["rejected_kind"] == "off_topic"]
    stripped = [cut(p.rejected) for p in pairs]
    assert sum(s != p.rejected for s, p in zip(stripped, pairs, strict=True)) > len(pairs) / 2
    accuracy = _accuracy_by_kind(unseen_judge, pairs, ["off_topic"] * len(pairs), stripped)
    assert accuracy["all"] >= 0.85, accuracy


def test_probe_prompts_are_new():
    asked = {p.lower() for q in all_questions() for p in q.phrasings}
    probes = PROBES
    assert len(probes) >= 12
    for probe in probes:
        assert probe.question.lower() not in asked, probe.question
        assert tuple(probe.answers) == ("good", *BAD_KINDS), probe.question
    assert {probe.batch for probe in probes} == {"first", "second"}


def test_judge_ranks_good_answers_above_probe_bad_answers(judge):
    """Good beats every bad kind on new prompts, overall >= 0.9 (measured 113 of 120).

    Loops, stuck loops and evasions are always caught and filler nearly always. Off-topic
    answers are the weak spot: when the good answer shares no word with a prompt whose words
    the data never uses ("stuck zipper" -> "rub a pencil along the teeth"), the good and the
    off-topic answer tie, so only >= 0.7 is asserted (15 of 20 measured). A cut-off answer
    is caught by its missing sentence end (asserted for every one), but an answer cut right
    after a full stop looks finished and is not; and a cut-off answer that restates the
    question can still outscore a good one that does not (1 of 20).
    """
    better: dict[str, list[bool]] = {kind: [] for kind in BAD_KINDS}
    for probe in PROBES:
        question, answers = probe.question, probe.answers
        prompts = [format_prompt(question)] * len(answers)
        scores = dict(zip(answers, judge.score(prompts, list(answers.values())), strict=True))
        terms = judge.score_terms(prompts, list(answers.values()))
        assert terms["incomplete"].tolist() == [0, 0, 0, 0, 0, 0, 1], question
        for kind in BAD_KINDS:
            better[kind].append(bool(scores["good"] > scores[kind]))
    rates = {kind: float(np.mean(flags)) for kind, flags in better.items()}
    overall = float(np.mean([flag for flags in better.values() for flag in flags]))
    assert overall >= 0.9, rates
    assert rates["loop"] == rates["stuck"] == rates["evasion"] == 1.0, rates
    assert rates["filler"] >= 0.9 and rates["cut_off"] >= 0.9, rates
    assert rates["off_topic"] >= 0.7, rates
    assert probe_accuracy(judge.score, *probe_pairs()) == pytest.approx({**rates, "all": overall})


def test_probe_pairs_pair_the_good_answer_with_each_bad_kind(tiny_tokenizer):
    pairs, kinds = probe_pairs(PROBES[:2])
    assert kinds == list(BAD_KINDS) * 2
    assert pairs[0].prompt == format_prompt(PROBES[0].question)
    assert pairs[0].chosen == " " + PROBES[0].answers["good"]
    assert [p.rejected for p in pairs[:6]] == [" " + PROBES[0].answers[k] for k in BAD_KINDS]
    # a scorer that only likes longer answers: per-kind rates, ties count as misses
    rates = probe_accuracy(lambda prompts, answers: np.array([len(a) for a in answers]),
                           pairs, kinds)  # fmt: skip
    assert rates["filler"] == 1.0 and rates["cut_off"] == 1.0 and 0 <= rates["all"] <= 1
    assert probe_accuracy(lambda p, a: np.zeros(len(a)), pairs, kinds)["all"] == 0.0


def test_probe_pairs_take_the_run_s_chat_template(tiny_tokenizer):
    tiny_tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    )
    try:
        pairs, _ = probe_pairs(PROBES[:1], tiny_tokenizer)
    finally:
        tiny_tokenizer.chat_template = None
    assert pairs[0].prompt == f"<user>{PROBES[0].question}<assistant>"
    assert pairs[0].chosen == PROBES[0].answers["good"]  # no leading space in chat format


def test_gold_judge_is_a_text_reward(judge):
    prompts = [format_prompt("How do I boil an egg?")] * 2
    responses = [" Boil the egg for nine minutes, then cool it in cold water.", " I don't know."]
    assert isinstance(judge, TextReward)
    total, terms = evaluate_reward(judge, prompts, responses)
    assert total.dtype == np.float64 and total.shape == (2,) and total[0] > total[1]
    assert terms == {"gold_judge": pytest.approx(total)}
    assert isinstance(build_text_reward("rlhf_text.judge:GoldJudge"), GoldJudge)
    named = judge.score_terms(prompts, responses)
    weighted = sum(weight * named[name] for name, weight in judge.weights.items())
    np.testing.assert_allclose(weighted, total)


def test_length_range_is_the_documented_one(judge):
    """default_data's docstring says chosen answers are 11-35 words; the judge derives it."""
    assert "chosen answers 11-35 words" in " ".join(default_data.__doc__.split())
    assert (judge.min_words, judge.max_words) == (11, 35)
    lengths = [len(r["chosen"].split()) for r in embedded_rows(0)]
    assert (min(lengths), max(lengths)) == (11, 35)


def test_length_outside_the_range_costs_per_word(judge):
    prompt = format_prompt("How do I boil an egg?")
    good = " Put the egg in boiling water for about nine minutes, then cool it in cold water."
    ramble = good + " Eggs are eggs and boiling water boils, as every cook knows by now." * 3
    responses = [good, " Boil it.", ramble]
    length = judge.score_terms([prompt] * 3, responses)["length"]
    np.testing.assert_array_equal(length, [0, 11 - 2, len(ramble.split()) - 35])
    assert judge.score([prompt], [good])[0] > judge.score([prompt], [" Boil it."])[0]


def test_every_generator_evasion_is_flagged_and_no_chosen_answer_is(judge):
    evasions = [
        e.format(about="your pets", change=change) for e in EVASIONS for change in SUBJECT_CHANGES
    ]
    prompts = [format_prompt("How do I trim my cat's claws?")] * len(evasions)
    assert judge.score_terms(prompts, evasions)["evasion"].min() > 0
    chosen = sorted({row["chosen"] for row in embedded_rows(0)})
    assert judge.score_terms([""] * len(chosen), chosen)["evasion"].max() == 0


def test_win_rate_counts_ties_as_half(judge):
    prompts = [format_prompt("How do I boil an egg?")] * 3
    good = " Put the egg in boiling water for nine minutes, then cool it in cold water."
    loop = " Boil boil boil boil boil boil boil boil."
    result = win_rate(judge, prompts, [good, good, loop], [loop, good, good])
    assert result == {
        "judge/win_rate": 0.5,
        "judge/wins": 1.0,
        "judge/ties": 1.0,
        "judge/losses": 1.0,
        "judge/count": 3.0,
    }
    assert win_rate(judge, prompts[:1], [good], [loop])["judge/win_rate"] == 1.0
    with pytest.raises(ValueError, match="n >= 1"):
        win_rate(judge, prompts, [good], [loop])


def test_win_counts_split_scores_by_the_tie_tolerance():
    near = TIE_TOLERANCE / 2  # closer than the tolerance: a tie
    assert win_counts([1.0, 1.0 + near, 0.0, 2.0], [0.5, 1.0, 1.0, 2.0]) == (1, 2, 1)
    assert win_counts([1.0], [0.9], tie_tolerance=0.5) == (0, 1, 0)


def test_distinct_n_is_distinct_ngrams_over_all_words():
    batch = ["The cat sat.", "the dog sat"]  # 6 words; 4 distinct unigrams; 4 bigrams
    assert distinct_n(batch, 1) == pytest.approx(4 / 6)
    assert distinct_n(["a a a a"], 1) == pytest.approx(1 / 4)
    assert distinct_n(["a a a a", "b c"], 2) == pytest.approx(2 / 6)  # "a a", "b c"
    stats = degeneration_stats(batch)
    assert stats["degeneration/distinct_1"] == pytest.approx(4 / 6)
    assert stats["degeneration/distinct_2"] == pytest.approx(4 / 6)


def test_repeated_ngram_rate_ignores_case_and_punctuation():
    # trigrams: abc, bca, cab, abc -> one of four repeats an earlier one
    rates = repeated_ngram_rates(["A b c. a B c", "x y z"])
    np.testing.assert_allclose(rates, [0.25, 0.0])
    stats = degeneration_stats(["A b c. a B c", "x y z"])
    assert stats["degeneration/repeated_ngram_rate"] == pytest.approx(0.125)


@pytest.mark.parametrize(
    "text",
    [
        "A layover is a layover is a layover is a layover.",
        "Rinse the rice and add water, add water, add water, add water.",
        "ncccccccccccc",
        "Sure! hahahahahaha",
        "very very very very good",
        "Mix it well. Then stir it well. Mix it well. Then stir it well. Mix it well.",
    ],
)
def test_loops_are_flagged(text):
    assert looks_looping(text)


@pytest.mark.parametrize(
    "text",
    [
        "Put the egg in boiling water for about nine minutes, then cool it in cold water.",
        "Keep 1000000 in savings? Mississippi bookkeepers say yes, yes it is.",
        "Water it well, feed it well, and keep it in bright light.",
        "",
    ],
)
def test_normal_text_is_not_flagged(text):
    assert not looks_looping(text)


def test_looping_matches_the_embedded_data():
    rows = embedded_rows(0)
    assert all(looks_looping(r["rejected"]) for r in rows if r["rejected_kind"] == "repetitive")
    assert not any(looks_looping(chosen) for chosen in {r["chosen"] for r in rows})


def test_degeneration_stats_eos_rate_and_mean_words():
    responses = ["one two three", "a b a b a b a b", "x"]
    stats = degeneration_stats(responses, ended_with_eos=[True, False, True])
    assert stats["degeneration/eos_rate"] == pytest.approx(2 / 3)
    assert stats["degeneration/mean_words"] == pytest.approx(4.0)
    assert stats["degeneration/looping_rate"] == pytest.approx(1 / 3)
    assert "degeneration/eos_rate" not in degeneration_stats(responses)
    with pytest.raises(ValueError, match="ended_with_eos"):
        degeneration_stats(responses, ended_with_eos=[True])
    with pytest.raises(ValueError, match="at least one"):
        degeneration_stats([])


def _feed(monitor, rewards, judges) -> list[str | None]:
    return [monitor.update(i, r, j) for i, (r, j) in enumerate(zip(rewards, judges, strict=True))]


def test_monitor_warns_when_reward_rises_and_judge_falls():
    monitor = OverOptimisationMonitor(window=3)
    warnings = _feed(monitor, [0.0, 1.0, 2.0, 3.0, 4.0], [0.5, 0.9, 0.8, 0.6, 0.4])
    assert warnings[:3] == [None, None, None]  # the judge still rose over the first window
    assert warnings[3] is not None and "iteration 3" in warnings[3]
    assert warnings[4] is not None
    assert (monitor.best_iteration, monitor.best_judge) == (1, 0.9)


@pytest.mark.parametrize(
    ("rewards", "judges"),
    [
        ([0.0, 1.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4]),  # both rise: learning
        ([3.0, 2.0, 1.0, 0.0], [0.4, 0.3, 0.2, 0.1]),  # both fall: collapse, not hacking
        ([1.0, 1.0, 1.0, 1.0], [0.4, 0.3, 0.2, 0.1]),  # reward flat
        ([0.0, 1.0, 2.0, 3.0], [0.3, 0.3, 0.3, 0.3]),  # judge flat
    ],
)
def test_monitor_is_quiet_otherwise(rewards, judges):
    monitor = OverOptimisationMonitor(window=3)
    assert _feed(monitor, rewards, judges) == [None] * 4
    assert monitor.best_iteration == int(np.argmax(judges))


def test_monitor_tolerance_ignores_small_falls():
    rewards, judges = [0.0, 1.0, 2.0], [0.50, 0.49, 0.48]
    assert _feed(OverOptimisationMonitor(window=3), rewards, judges)[-1] is not None
    quiet = OverOptimisationMonitor(window=3, judge_tolerance=0.05)
    assert _feed(quiet, rewards, judges)[-1] is None
    assert (
        _feed(OverOptimisationMonitor(window=3, reward_tolerance=5.0), rewards, judges)
        == [None] * 3
    )


def test_monitor_ignores_a_judge_falling_inside_its_sampling_noise():
    """A 16-answer judge mean with standard error 0.1 wobbles by a few hundredths: no
    warning. The same fall, measured on many more answers (standard error 0.005), warns."""
    rewards, judges = [0.0, 1.0, 2.0, 3.0, 4.0], [0.50, 0.48, 0.47, 0.45, 0.44]
    for stderr, warns in ((0.1, False), (0.005, True)):
        monitor = OverOptimisationMonitor(window=5)
        last = [
            monitor.update(i, r, j, stderr)
            for i, (r, j) in enumerate(zip(rewards, judges, strict=True))
        ]
        assert (last[-1] is not None) is warns, stderr
    silent = OverOptimisationMonitor(window=5, noise_z=0.0)  # noise ignored: the old rule
    assert [
        silent.update(i, r, j, 0.1) for i, (r, j) in enumerate(zip(rewards, judges, strict=True))
    ][-1]


def test_a_monitor_saved_without_standard_errors_resumes():
    saved = {"window": 3, "history": [[0, 0.0, 0.5], [1, 1.0, 0.9]], "best_iteration": 1}
    monitor = OverOptimisationMonitor(**saved, best_judge=0.9)
    assert monitor.update(2, 2.0, 0.1, 0.01) is not None
    assert monitor.judge_stderrs == [0.0, 0.0, 0.01]


def test_monitor_resumes_from_its_saved_fields():
    rewards, judges = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.9, 0.8, 0.6, 0.4, 0.3]
    whole = OverOptimisationMonitor(window=3)
    expected = _feed(whole, rewards, judges)
    first = OverOptimisationMonitor(window=3)
    _feed(first, rewards[:3], judges[:3])
    resumed = OverOptimisationMonitor(**json.loads(json.dumps(dataclasses.asdict(first))))
    later = [
        resumed.update(i, r, j)
        for i, r, j in zip(range(3, 6), rewards[3:], judges[3:], strict=True)
    ]
    assert later == expected[3:] and later[-1] is not None
    assert (resumed.best_iteration, resumed.best_judge) == (whole.best_iteration, 0.9)


def test_gold_judge_rejects_negative_weights_and_an_empty_range():
    with pytest.raises(ValueError, match="weight of evasion"):
        GoldJudge(evasion_weight=-1.0)
    with pytest.raises(ValueError, match="min_words <= max_words"):
        GoldJudge(min_words=40)


def test_monitor_rejects_bad_settings_and_values():
    with pytest.raises(ValueError, match="window"):
        OverOptimisationMonitor(window=1)
    with pytest.raises(ValueError, match="judge_tolerance"):
        OverOptimisationMonitor(judge_tolerance=-1.0)
    with pytest.raises(ValueError, match="finite"):
        OverOptimisationMonitor().update(0, math.nan, 0.0)
