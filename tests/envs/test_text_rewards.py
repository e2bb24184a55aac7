"""Tests for the text rewards: rules, sums, checks, config specs and the reward-model scorer."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.rewards import (
    CallableReward,
    KeywordPresence,
    LengthWindow,
    RepetitionPenalty,
    TextReward,
    WeightedSum,
    build_text_reward,
    check_scores,
    evaluate_reward,
    reward_name,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


# Module-level rewards that the import-path tests name as "tests.envs.test_text_rewards:...".
def exclamation_bonus(prompts: list[str], responses: list[str]) -> list[float]:
    """1.0 for each response that ends with '!', else 0.0."""
    return [float(response.endswith("!")) for response in responses]


class PromptEcho:
    """A TextReward class: 1.0 where the response repeats the prompt, else 0.0."""

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        return np.array([float(p == r) for p, r in zip(prompts, responses, strict=True)])


def make_short_window() -> LengthWindow:
    """A factory taking no arguments."""
    return LengthWindow(min_words=0, max_words=2, penalty_per_word=1.0)


def make_a_class() -> type:
    """A factory that wrongly returns a class, not a reward."""
    return LengthWindow


def _score(reward: TextReward, responses: list[str]) -> np.ndarray:
    return reward.score(["prompt"] * len(responses), responses)


# --- rule rewards -------------------------------------------------------------------------------


def test_length_window_penalises_words_outside_the_window() -> None:
    reward = LengthWindow(min_words=3, max_words=5, penalty_per_word=0.5)
    responses = ["", "a b", "a b c", " a\tb\nc  ", "a b c d e", "a b c d e f g"]
    np.testing.assert_array_equal(_score(reward, responses), [-1.5, -0.5, 0, 0, 0, -1.0])
    assert _score(reward, ["a"]).dtype == np.float64


def test_repetition_penalty_is_minus_the_repeated_ngram_fraction() -> None:
    reward = RepetitionPenalty(n=2)
    responses = ["a b c d", "a b a b", "x x x x x", "a", ""]
    np.testing.assert_allclose(_score(reward, responses), [0.0, -1 / 3, -0.75, 0.0, 0.0])
    np.testing.assert_allclose(_score(RepetitionPenalty(n=1), ["a a", "A a"]), [-0.5, 0.0])
    loop = " ".join(["the cat sat"] * 100)
    assert -1.0 < _score(RepetitionPenalty(), [loop])[0] < -0.98


def test_keyword_presence_matches_whole_words() -> None:
    responses = ["a cat.", "Cat and DOG", "concatenate hotdogs", "no pets"]
    np.testing.assert_array_equal(
        _score(KeywordPresence(["cat", "dog"]), responses), [0.5, 1.0, 0.0, 0.0]
    )
    np.testing.assert_array_equal(
        _score(KeywordPresence(["cat", "dog"], case_sensitive=True), responses),
        [0.5, 0.0, 0.0, 0.0],
    )
    np.testing.assert_array_equal(
        _score(KeywordPresence(["cat", "dog"], mode="any"), responses), [1.0, 1.0, 0.0, 0.0]
    )
    special = KeywordPresence(["C++", "new york"])
    np.testing.assert_array_equal(
        _score(special, ["I write C++.", "in New York city", "C++x newyork"]), [0.5, 0.5, 0.0]
    )


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: LengthWindow(min_words=-1), "min_words"),
        (lambda: LengthWindow(min_words=5, max_words=4), "max_words"),
        (lambda: LengthWindow(min_words=2.5), "min_words"),
        (lambda: LengthWindow(penalty_per_word=-0.1), "penalty_per_word"),
        (lambda: LengthWindow(penalty_per_word=float("nan")), "penalty_per_word"),
        (lambda: RepetitionPenalty(n=0), "n"),
        (lambda: RepetitionPenalty(n=True), "n"),
        (lambda: KeywordPresence([]), "keywords"),
        (lambda: KeywordPresence("cat"), "keywords"),
        (lambda: KeywordPresence(["cat", " "]), "keywords"),
        (lambda: KeywordPresence(["cat"], mode="all"), "mode"),
        (lambda: KeywordPresence(["cat"], case_sensitive="yes"), "case_sensitive"),
    ],
)
def test_bad_arguments_are_named(build: Any, argument: str) -> None:
    with pytest.raises(ValueError, match=rf"^{argument} "):
        build()


def _documented_defaults(cls: type) -> dict[str, Any]:
    """`Defaults to X.` of each argument in the class's Google-style Args section."""
    args = inspect.getdoc(cls).split("Args:")[1].split("Attributes:")[0]
    entries = re.split(r"\n    (?=\w+: )", "\n" + args)
    defaults = {}
    for entry in entries:
        name, _, text = entry.strip().partition(": ")
        match = re.search(r"Defaults to ([^\s:]+?)[.:]?(?:\s|$)", text)
        if match:
            defaults[name] = eval(match.group(1))  # literals written by us: 5, "cpu", None
    return defaults


def _reward_model_scorer() -> type:
    from envs.rewards.reward_model import RewardModelScorer

    return RewardModelScorer


@pytest.mark.parametrize(
    "get_cls",
    [
        lambda: LengthWindow,
        lambda: RepetitionPenalty,
        lambda: KeywordPresence,
        lambda: CallableReward,
        _reward_model_scorer,
    ],
)
def test_documented_defaults_equal_the_signature(get_cls: Any) -> None:
    cls = get_cls()
    signature_defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    assert _documented_defaults(cls) == signature_defaults


# --- sums, names, checks ------------------------------------------------------------------------


def test_weighted_sum_total_is_the_weighted_terms() -> None:
    length = LengthWindow(min_words=3, max_words=4, penalty_per_word=1.0)
    repetition = RepetitionPenalty(n=1)
    by_mapping = WeightedSum({"length": (2.0, length), "repetition": (-0.5, repetition)})
    by_list = WeightedSum([("length", 2.0, length), ("repetition", -0.5, repetition)])
    prompts, responses = ["p"] * 3, ["a a", "a b c", "a b c d e f"]
    terms = by_mapping.score_terms(prompts, responses)
    assert list(terms) == ["length", "repetition"]
    np.testing.assert_allclose(terms["length"], [-1.0, 0.0, -2.0])
    np.testing.assert_allclose(terms["repetition"], [-0.5, 0.0, 0.0])
    expected = 2.0 * terms["length"] - 0.5 * terms["repetition"]
    np.testing.assert_allclose(by_mapping.score(prompts, responses), expected)
    np.testing.assert_allclose(by_list.score(prompts, responses), expected)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({}, "at least one"),
        ([("a", 1.0, LengthWindow()), ("a", 1.0, LengthWindow())], "distinct"),
        ({"a": (float("inf"), LengthWindow())}, "weight of term 'a' must be a finite number"),
        ({"a": (1.0, "not a reward")}, "term 'a' must be a TextReward"),
        ([("a", 1.0)], r"must be \(name, weight, reward\)"),
    ],
)
def test_weighted_sum_rejects_bad_terms(terms: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeightedSum(terms)


def test_evaluate_reward_returns_total_and_terms() -> None:
    prompts, responses = ["p", "q"], ["a b c!", "a"]
    total, terms = evaluate_reward(LengthWindow(min_words=3), prompts, responses)
    np.testing.assert_allclose(total, [0.0, -0.2])
    assert list(terms) == ["length_window"] and terms["length_window"] is total

    summed = WeightedSum(
        {"len": (1.0, LengthWindow(min_words=3)), "bang": (3.0, exclamation_bonus)}
    )
    total, terms = evaluate_reward(summed, prompts, responses)
    np.testing.assert_allclose(terms["len"], [0.0, -0.2])
    np.testing.assert_allclose(terms["bang"], [1.0, 0.0])
    np.testing.assert_allclose(total, [3.0, -0.2])

    total, terms = evaluate_reward(exclamation_bonus, prompts, responses)
    assert list(terms) == ["exclamation_bonus"]


@pytest.mark.parametrize(
    ("prompts", "responses", "message"),
    [
        (["p"], ["a", "b"], "1 prompts but 2 responses"),
        ("p", ["a"], "prompts must be a list"),
        (["p"], [3], r"responses\[0\] must be a str"),
    ],
)
def test_evaluate_reward_checks_the_texts(prompts: Any, responses: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_reward(LengthWindow(), prompts, responses)


def test_reward_names() -> None:
    assert reward_name(LengthWindow()) == "length_window"
    assert reward_name(KeywordPresence(["x"])) == "keyword_presence"
    assert reward_name(exclamation_bonus) == "exclamation_bonus"
    assert reward_name(CallableReward(exclamation_bonus, name="bang")) == "bang"
    assert reward_name(WeightedSum({"a": (1.0, LengthWindow())})) == "weighted_sum"


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([1.0, float("nan")], r"reward 'my_reward' returned nan for row 1"),
        ([1.0, float("-inf")], r"reward 'my_reward' returned -inf for row 1"),
        ([1.0, 2.0, 3.0], r"reward 'my_reward' returned scores of shape \(3,\), expected \(2,\)"),
        ([[1.0], [2.0]], r"reward 'my_reward' returned scores of shape \(2, 1\)"),
        (1.0, r"reward 'my_reward' returned scores of shape \(\)"),
        (["1.0", "2.0"], r"reward 'my_reward' returned non-numeric"),
        ([1.0, None], r"reward 'my_reward' returned non-numeric"),
        ([[1.0], [1.0, 2.0]], r"reward 'my_reward' returned non-numeric"),
        ([1 + 1j, 0j], r"reward 'my_reward' returned non-numeric"),
    ],
)
def test_check_scores_names_the_reward(scores: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_scores(scores, 2, "my_reward")


def test_check_scores_converts_to_float64() -> None:
    for scores in ([1, 2], (True, False), np.array([1.0, 2.0], dtype=np.float32)):
        checked = check_scores(scores, 2, "r")
        assert checked.dtype == np.float64 and checked.shape == (2,)


def test_a_bad_function_is_named_when_evaluated() -> None:
    reward = CallableReward(lambda prompts, responses: [0.0], name="one_short")
    with pytest.raises(ValueError, match="reward 'one_short' returned scores of shape"):
        evaluate_reward(reward, ["p", "q"], ["a", "b"])


# --- build_text_reward --------------------------------------------------------------------------


def test_build_from_dicts() -> None:
    reward = build_text_reward(
        {
            "type": "weighted_sum",
            "terms": {
                "length": {"weight": 1.0, "reward": {"type": "length_window", "min_words": 2}},
                "repeat": {"weight": 0.5, "reward": {"type": "repetition", "n": 1}},
                "cats": {"weight": 2.0, "reward": {"type": "keyword", "keywords": ["cat"]}},
                "bang": {
                    "weight": 1.0,
                    "reward": {
                        "type": "callable",
                        "fn": "tests.envs.test_text_rewards:exclamation_bonus",
                    },
                },
            },
        }
    )
    assert isinstance(reward, WeightedSum)
    total, terms = evaluate_reward(reward, ["p", "q"], ["cat cat!", "dog"])
    np.testing.assert_allclose(terms["length"], [0.0, -0.1])
    np.testing.assert_allclose(terms["repeat"], [0.0, 0.0])  # "cat" and "cat!" differ
    np.testing.assert_allclose(terms["cats"], [1.0, 0.0])
    np.testing.assert_allclose(terms["bang"], [1.0, 0.0])
    np.testing.assert_allclose(total, [3.0, -0.1])


def test_a_text_reward_function_with_the_wrong_signature_fails_when_built() -> None:
    def three_arguments(prompts: list[str], responses: list[str], scale: float) -> list[float]:
        return [scale] * len(responses)

    with pytest.raises(ValueError, match=r"three_arguments must take \(prompts, responses\)"):
        build_text_reward(three_arguments)
    with pytest.raises(ValueError, match="must take"):
        build_text_reward({"type": "callable", "fn": "builtins:len"})


def test_build_from_import_paths_and_objects() -> None:
    function = build_text_reward("tests.envs.test_text_rewards:exclamation_bonus")
    assert isinstance(function, CallableReward)
    assert reward_name(function) == "exclamation_bonus"
    np.testing.assert_array_equal(_score(function, ["hi!", "hi"]), [1.0, 0.0])

    from_class = build_text_reward("tests.envs.test_text_rewards:PromptEcho")
    assert isinstance(from_class, PromptEcho)
    from_factory = build_text_reward("tests.envs.test_text_rewards:make_short_window")
    assert from_factory == LengthWindow(min_words=0, max_words=2, penalty_per_word=1.0)

    rule = RepetitionPenalty()
    assert build_text_reward(rule) is rule
    assert isinstance(build_text_reward(exclamation_bonus), CallableReward)
    assert build_text_reward(LengthWindow) == LengthWindow()  # a class is instantiated


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "lenght_window"}, "unknown text reward type 'lenght_window'"),
        ({"min_words": 3}, "unknown text reward type None"),
        ({"type": "length_window", "max_wordz": 3}, r"unknown arguments \['max_wordz'\]"),
        ({"type": "keyword"}, "missing a required argument: 'keywords'"),
        ({"type": "weighted_sum", "terms": {"a": {"weight": 1.0}}}, "term 'a' must be"),
        ({"type": "reward_model", "model": "x", "batch": 2}, r"unknown arguments \['batch'\]"),
        ("tests.envs.test_text_rewards:no_such", "has no attribute 'no_such'"),
        ("tests.envs.test_text_rewards:make_a_class", "built a type, which has no score"),
        (42, "a text reward spec must be"),
    ],
)
def test_build_errors_name_the_problem(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_text_reward(spec)


def test_importing_the_rules_does_not_import_torch() -> None:
    code = (
        "import sys, envs.rewards.text, envs.rewards;"
        "envs.rewards.build_text_reward({'type': 'length_window'});"
        "heavy = {'torch', 'transformers'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


# --- RewardModelScorer on a tiny GPT-2 built here ------------------------------------------------

WORDS = [
    "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "good", "bad", "very",
    "is", "was", "and",
]  # fmt: skip
TEXTS = [
    "the cat",
    "the cat sat on the mat",
    "a dog ran very fast and the cat was slow",
    "good",
    "the dog is bad",
]


def _tiny_tokenizer(with_pad: bool = True) -> Any:
    """A word-level tokenizer: [PAD] = 0, [UNK] = 1, [EOS] = 2, then WORDS."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    pad = {"pad_token": "[PAD]"} if with_pad else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", eos_token="[EOS]", **pad
    )


def _tiny_model(pad_token_id: int | None = 0) -> Any:
    import torch
    from transformers import GPT2Config, GPT2ForSequenceClassification

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(WORDS) + 3, n_positions=64, n_embd=32, n_layer=2, n_head=2,
        num_labels=1, pad_token_id=pad_token_id, bos_token_id=2, eos_token_id=2,
        initializer_range=0.2,
    )  # fmt: skip
    return GPT2ForSequenceClassification(config).eval()


def _reference_scores(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """The score head at the last token of each text alone: no padding, no pooling code."""
    import torch

    scores = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])  # (1, T)
            hidden = model.transformer(ids).last_hidden_state  # (1, T, n_embd)
            scores.append(model.score(hidden)[0, -1, 0].item())
    return np.array(scores)


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    return _tiny_model(), _tiny_tokenizer()


def _scorer(tiny: tuple[Any, Any], **kwargs: Any) -> Any:
    from envs.rewards.reward_model import RewardModelScorer

    model, tokenizer = tiny
    return RewardModelScorer(model, tokenizer, **{"max_length": 64, **kwargs})


def test_padding_does_not_change_scores(tiny: tuple[Any, Any]) -> None:
    prompts = [""] * len(TEXTS)
    one_by_one = _scorer(tiny, batch_size=1).score(prompts, TEXTS)
    batched = _scorer(tiny, batch_size=4).score(prompts, TEXTS)
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-5)
    assert batched.dtype == np.float64 and np.ptp(batched) > 0.1  # the texts score apart


def test_the_score_is_the_logit_at_the_last_real_token(tiny: tuple[Any, Any]) -> None:
    scores = _scorer(tiny, batch_size=4).score([""] * len(TEXTS), TEXTS)
    np.testing.assert_allclose(scores, _reference_scores(*tiny, TEXTS), rtol=0, atol=1e-5)


def test_the_response_is_appended_to_the_prompt(tiny: tuple[Any, Any]) -> None:
    scorer = _scorer(tiny)
    split = scorer.score(["the cat", "a dog ran"], [" sat on the mat", " fast"])
    whole = scorer.score(["", ""], ["the cat sat on the mat", "a dog ran fast"])
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-6)


def test_a_text_ending_in_the_pad_token_is_scored_at_its_end() -> None:
    # No pad token anywhere: the scorer falls back to pad = EOS, and texts end with EOS.
    model, tokenizer = _tiny_model(pad_token_id=None), _tiny_tokenizer(with_pad=False)
    texts = ["the cat sat [EOS]", "a dog ran very fast [EOS]", "good", "the [EOS] dog"]
    scorer = _scorer((model, tokenizer), batch_size=4)
    assert model.config.pad_token_id == tokenizer.pad_token_id == tokenizer.eos_token_id == 2
    scores = scorer.score([""] * len(texts), texts)
    np.testing.assert_allclose(scores, _reference_scores(model, tokenizer, texts), atol=1e-5)
    assert model.config.pad_token_id == 2  # restored after the unpadded pass


def test_a_saved_model_loads_by_path_with_identical_scores(
    tiny: tuple[Any, Any], tmp_path: Path
) -> None:
    from envs.rewards.reward_model import RewardModelScorer

    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    expected = _scorer(tiny, batch_size=2).score([""] * len(TEXTS), TEXTS)
    loaded = RewardModelScorer(str(tmp_path), batch_size=3, max_length=64)
    np.testing.assert_allclose(loaded.score([""] * len(TEXTS), TEXTS), expected, atol=1e-6)
    from_config = build_text_reward(
        {"type": "reward_model", "model": str(tmp_path), "max_length": 64}
    )
    total, terms = evaluate_reward(from_config, [""] * len(TEXTS), TEXTS)
    np.testing.assert_allclose(total, expected, atol=1e-6)
    assert list(terms) == ["reward_model_scorer"]


def test_long_texts_are_cut_from_the_left_and_counted(tiny: tuple[Any, Any]) -> None:
    scorer = _scorer(tiny, max_length=4, batch_size=2)
    scores = scorer.score(["the cat ", ""], ["sat on the mat", "a dog"])
    expected = _reference_scores(*tiny, ["sat on the mat", "a dog"])
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    assert scorer.num_truncated == 1
    scorer.score(["the cat ", "a b c d e"], ["sat on the mat", ""])
    assert scorer.num_truncated == 3


def test_truncation_error_names_the_row(tiny: tuple[Any, Any]) -> None:
    scorer = _scorer(tiny, max_length=4, truncation="error")
    with pytest.raises(ValueError, match=r"row 1: 6 tokens exceed max_length=4"):
        scorer.score(["", "the cat "], ["good", "sat on the mat"])
    assert scorer.num_truncated == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tokenizer": None}, "tokenizer is required"),
        ({"max_length": 65}, "max_length 65 exceeds the model's 64 positions"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"max_length": 0}, "max_length must be"),
        ({"truncation": "right"}, "truncation must be"),
    ],
)
def test_scorer_arguments_are_checked(
    tiny: tuple[Any, Any], kwargs: dict[str, Any], message: str
) -> None:
    from envs.rewards.reward_model import RewardModelScorer

    model, tokenizer = tiny
    with pytest.raises(ValueError, match=message):
        RewardModelScorer(model, **{"tokenizer": tokenizer, "max_length": 64, **kwargs})


def test_scorer_max_length_defaults_to_the_model_positions(tiny: tuple[Any, Any]) -> None:
    """A tiny model (64 positions) is scored whole without naming max_length; 512 caps it."""
    from envs.rewards.reward_model import DEFAULT_MAX_LENGTH, RewardModelScorer

    model, tokenizer = tiny
    assert RewardModelScorer(model, tokenizer).max_length == 64
    assert DEFAULT_MAX_LENGTH == 512


def test_scorer_rejects_empty_texts_and_many_labels(tiny: tuple[Any, Any]) -> None:
    from transformers import GPT2Config, GPT2ForSequenceClassification

    from envs.rewards.reward_model import RewardModelScorer

    with pytest.raises(ValueError, match="row 1: prompt \\+ response has no tokens"):
        _scorer(tiny).score(["good", ""], ["", " "])
    config = GPT2Config(vocab_size=8, n_positions=64, n_embd=8, n_layer=1, n_head=1, num_labels=2)
    two_labels = GPT2ForSequenceClassification(config)
    with pytest.raises(ValueError, match="num_labels == 1"):
        RewardModelScorer(two_labels, tiny[1], max_length=64)
