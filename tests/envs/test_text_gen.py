"""Tests for envs.text_gen: the single and the natively batched text-generation env."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import envs
from envs.text_gen import TextGenEnv, TextGenVectorEnv

PROMPTS = ["Human: Why is the sky blue? Assistant:", "the cat sat", "How do I store bread?"]


def words(prompts: list[str], responses: list[str]) -> list[float]:
    """A module-level reward (import path tests.envs.test_text_gen:words)."""
    return [float(len(response.split())) for response in responses]


def make(tokenizer, **kwargs) -> TextGenEnv:
    defaults = {"prompts": PROMPTS, "reward_fn": words, "max_prompt_len": 16, "max_new_tokens": 5}
    return TextGenEnv(tokenizer, **{**defaults, **kwargs})


def make_vec(tokenizer, num_envs: int = 3, **kwargs) -> TextGenVectorEnv:
    defaults = {"prompts": PROMPTS, "reward_fn": words, "max_prompt_len": 16, "max_new_tokens": 5}
    return TextGenVectorEnv(num_envs, tokenizer, **{**defaults, **kwargs})


def plain_token(tokenizer) -> int:
    """A token that is neither EOS nor pad."""
    return tokenizer.convert_tokens_to_ids("\u0120the")  # " the"


def test_spaces_and_observation_layout(tiny_tokenizer) -> None:
    env = make(tiny_tokenizer)
    assert env.action_space == gymnasium.spaces.Discrete(len(tiny_tokenizer))
    obs, info = env.reset(seed=0, options={"prompt": "the cat sat"})
    ids = tiny_tokenizer("the cat sat")["input_ids"]
    assert obs["input_ids"].shape == (21,) and obs["attention_mask"].shape == (21,)
    # right-aligned prompt, left padding with mask 0
    assert obs["input_ids"][-len(ids) :].tolist() == ids
    assert obs["attention_mask"].tolist() == [0] * (21 - len(ids)) + [1] * len(ids)
    assert (obs["input_ids"][: 21 - len(ids)] == tiny_tokenizer.pad_token_id).all()
    assert info["prompt_length"] == len(ids)
    token = plain_token(tiny_tokenizer)
    obs, reward, terminated, truncated, info = env.step(token)
    assert obs["input_ids"][-1] == token and obs["input_ids"][-len(ids) - 1 : -1].tolist() == ids
    assert obs["attention_mask"].sum() == len(ids) + 1
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert obs in env.observation_space


def test_eos_terminates_and_the_reward_comes_at_the_end(tiny_tokenizer) -> None:
    env = make(tiny_tokenizer)
    env.reset(seed=0, options={"prompt": "the cat sat"})
    token = plain_token(tiny_tokenizer)
    env.step(token)
    _, reward, terminated, truncated, info = env.step(tiny_tokenizer.eos_token_id)
    assert terminated and not truncated
    assert info["response"] == tiny_tokenizer.decode([token]) and reward == 1.0
    assert info["reward_words"] == 1.0 and info["response_length"] == 2
    with pytest.raises(RuntimeError, match="reset"):
        env.step(token)


def test_max_new_tokens_truncates(tiny_tokenizer) -> None:
    env = make(tiny_tokenizer, max_new_tokens=3)
    env.reset(seed=0)
    token = plain_token(tiny_tokenizer)
    results = [env.step(token) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not any(r[2] for r in results)
    assert results[-1][1] == 3.0  # three words "the"


def test_stop_tokens_are_configurable(tiny_tokenizer) -> None:
    stop = plain_token(tiny_tokenizer)
    env = make(tiny_tokenizer, stop_token_ids=[stop])
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(tiny_tokenizer.eos_token_id)
    assert not terminated
    assert env.step(stop)[2]


def test_stop_tokens_end_only_their_rows_and_finished_rows_take_any_id(tiny_tokenizer):
    stop = plain_token(tiny_tokenizer)
    env = make_vec(tiny_tokenizer, stop_token_ids=[stop])
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(np.array([stop, stop + 1, stop]))
    assert terminated.tolist() == [True, False, True] and not truncated.any()
    # the finished rows' actions are ignored, even ids outside the vocabulary
    _, _, terminated, _, _ = env.step(np.array([len(tiny_tokenizer) + 7, stop, -1]))
    assert terminated.tolist() == [False, True, False]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_gymnasium_and_sb3_env_checkers(tiny_tokenizer) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(make(tiny_tokenizer), skip_render_check=True)
    sb3_check_env(make(tiny_tokenizer))


def test_seeded_determinism(tiny_tokenizer) -> None:
    def episode(seed: int) -> list:
        env = make(tiny_tokenizer)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        trace = [obs["input_ids"].tolist()]
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            trace.append((obs["input_ids"].tolist(), reward))
            done = terminated or truncated
        return trace

    assert episode(3) == episode(3)
    firsts = {tuple(episode(seed)[0]) for seed in range(6)}
    assert len(firsts) > 1  # the seed picks the prompt


@pytest.mark.parametrize(
    ("action", "message"),
    [(10_000, "outside the vocabulary"), (-1, "outside the vocabulary"), (1.5, "integer")],
)
def test_bad_tokens_raise(tiny_tokenizer, action, message) -> None:
    env = make(tiny_tokenizer)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_bad_prompts_raise_or_truncate_when_allowed(tiny_tokenizer) -> None:
    with pytest.raises(ValueError, match="empty"):
        make(tiny_tokenizer, prompts=["fine", "  "])
    with pytest.raises(ValueError, match="empty"):
        make(tiny_tokenizer, prompts=[])
    long = "the cat sat on the mat " * 10
    with pytest.raises(ValueError, match="max_prompt_len"):
        make(tiny_tokenizer, prompts=[long])
    env = make(tiny_tokenizer, prompts=[long, "the cat"], prompt_truncation="left")
    assert env.prompts.num_truncated == 1
    obs, _ = env.reset(seed=0, options={"prompt": long})
    assert obs["attention_mask"].sum() == 16  # the last max_prompt_len tokens are kept
    ids = tiny_tokenizer(long)["input_ids"]
    assert obs["input_ids"][-16:].tolist() == ids[-16:]


def nan_reward(prompts, responses):
    return [float("nan")] * len(responses)


def too_few(prompts, responses):
    return [1.0] * (len(responses) + 1)


@pytest.mark.parametrize(("reward_fn", "message"), [(nan_reward, "nan"), (too_few, "2|count")])
def test_bad_reward_functions_raise(tiny_tokenizer, reward_fn, message) -> None:
    env = make(tiny_tokenizer, reward_fn=reward_fn, max_new_tokens=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"(?i){message}"):
        env.step(plain_token(tiny_tokenizer))


def test_reward_swaps_by_config_and_reports_each_term(tiny_tokenizer) -> None:
    spec = {
        "type": "weighted_sum",
        "terms": {
            "words": {"weight": 2.0, "reward": "tests.envs.test_text_gen:words"},
            "cat": {"weight": 1.0, "reward": {"type": "keyword", "keywords": ["the"]}},
        },
    }
    env = make(tiny_tokenizer, reward_fn=spec, max_new_tokens=2)
    env.reset(seed=0)
    token = plain_token(tiny_tokenizer)
    env.step(token)
    _, reward, _, truncated, info = env.step(token)
    assert truncated and info["reward_words"] == 2.0 and info["reward_cat"] == 1.0
    assert reward == 2.0 * 2.0 + 1.0


def test_registered_ids_make_single_and_vector_envs(tiny_tokenizer) -> None:
    kwargs = {"tokenizer": tiny_tokenizer, "prompts": PROMPTS, "reward_fn": words}
    single = gymnasium.make(envs.TEXT_GEN_ID, **kwargs)
    assert isinstance(single.unwrapped, TextGenEnv)
    vector = gymnasium.make_vec(envs.TEXT_GEN_ID, num_envs=4, **kwargs)
    assert isinstance(vector, TextGenVectorEnv) and vector.num_envs == 4


def test_vector_env_matches_the_single_env_row_by_row(tiny_tokenizer) -> None:
    vector = make_vec(tiny_tokenizer, num_envs=3)
    obs, _ = vector.reset(seed=0, options={"prompts": PROMPTS})
    singles = [make(tiny_tokenizer) for _ in PROMPTS]
    single_obs = [
        env.reset(options={"prompt": p})[0] for env, p in zip(singles, PROMPTS, strict=True)
    ]
    rng = np.random.default_rng(0)
    for _ in range(5):
        for i, env_obs in enumerate(single_obs):
            for key in ("input_ids", "attention_mask"):
                np.testing.assert_array_equal(obs[key][i], env_obs[key])
        tokens = rng.integers(2, len(tiny_tokenizer), size=3)
        obs, rewards, term, trunc, info = vector.step(tokens)
        for i, env in enumerate(singles):
            if env.batch.finished[0]:
                continue
            single_obs[i], reward, t1, t2, single_info = env.step(tokens[i])
            assert (rewards[i], term[i], trunc[i]) == (reward, t1, t2)
            if t1 or t2:
                assert info["_response"][i] and info["response"][i] == single_info["response"]


def test_disabled_autoreset_keeps_finished_rows_still(tiny_tokenizer) -> None:
    vector = make_vec(tiny_tokenizer, num_envs=2)
    assert vector.metadata["autoreset_mode"] is AutoresetMode.DISABLED
    vector.reset(seed=0)
    eos, token = tiny_tokenizer.eos_token_id, plain_token(tiny_tokenizer)
    obs, rewards, term, _, info = vector.step(np.array([eos, token]))
    assert term.tolist() == [True, False] and info["_reward_words"].tolist() == [True, False]
    after, rewards, term, trunc, _ = vector.step(np.array([token, token]))
    np.testing.assert_array_equal(after["input_ids"][0], obs["input_ids"][0])  # ignored
    assert rewards[0] == 0 and not term[0] and not trunc[0]
    assert after["input_ids"][1, -1] == token
    # reset only the finished row
    reset_obs, _ = vector.reset(options={"reset_mask": np.array([True, False])})
    np.testing.assert_array_equal(reset_obs["input_ids"][1], after["input_ids"][1])
    assert vector.batch.response_length.tolist() == [0, 2]


def test_next_step_autoreset_starts_a_new_prompt(tiny_tokenizer) -> None:
    vector = make_vec(tiny_tokenizer, num_envs=2, autoreset_mode="NextStep")
    vector.reset(seed=0)
    eos, token = tiny_tokenizer.eos_token_id, plain_token(tiny_tokenizer)
    vector.step(np.array([eos, token]))
    obs, rewards, term, trunc, _ = vector.step(np.array([token, token]))
    assert obs["attention_mask"][0].sum() == vector.batch.prompt_length[0]  # fresh prompt
    assert vector.batch.response_length.tolist() == [0, 2]
    assert rewards[0] == 0 and not term[0] and not trunc[0]


def test_prompt_shards_together_draw_what_one_env_draws(tiny_tokenizer) -> None:
    # 10 prompts, a batch of 6 shared out over 3 "ranks" of 2 rows, each seeded alike
    prompts = [f"prompt number {i}" for i in range(10)]
    whole = make_vec(tiny_tokenizer, num_envs=6, prompts=prompts)
    shares = [
        make_vec(tiny_tokenizer, num_envs=2, prompts=prompts, prompt_shard=(index, 3))
        for index in range(3)
    ]
    for seed in (0, None, None):  # a seeded reset, then two draws that continue the stream
        whole.reset(seed=seed)
        for share in shares:
            share.reset(seed=seed)
        interleaved = [shares[row % 3].prompt_texts[row // 3] for row in range(6)]
        assert interleaved == whole.prompt_texts
    with pytest.raises(ValueError, match="prompt_shard must be"):
        make_vec(tiny_tokenizer, prompt_shard=(2, 2))


def test_vector_env_rejects_bad_actions(tiny_tokenizer) -> None:
    vector = make_vec(tiny_tokenizer, num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        vector.step(np.array([3, 3]))
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        vector.step(np.array([3]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vector.step(np.array([3, 10_000]))


def test_prompt_files(tiny_tokenizer, tmp_path) -> None:
    (tmp_path / "p.txt").write_text("the cat\n\nthe dog\n")
    (tmp_path / "p.jsonl").write_text('{"prompt": "the cat"}\n{"prompt": "the dog"}\n')
    for name in ("p.txt", "p.jsonl"):
        assert make(tiny_tokenizer, prompts=str(tmp_path / name)).prompts.texts == [
            "the cat",
            "the dog",
        ]
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        make(tiny_tokenizer, prompts=str(tmp_path / "nope.txt"))


def test_stable_baselines3_ppo_trains_unchanged(tiny_tokenizer) -> None:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = make(tiny_tokenizer, max_prompt_len=12, max_new_tokens=3)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0)
    model.learn(64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert 0 <= int(action) < len(tiny_tokenizer)
