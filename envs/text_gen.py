"""TextGen: text generation as a Gymnasium environment. Tokens are actions; the reward comes
at the end of the response, from any swappable text reward (a reward model, a rule, a user
function, or a weighted sum of them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from envs._text_prompts import (
    PROMPT_TRUNCATION,
    PromptSource,
    load_prompts,
    load_tokenizer,
    observation_space,
    text_spec,
)
from envs._token_batch import TokenBatch
from envs.rewards.text import build_text_reward, evaluate_reward, reward_name

__all__ = ["PROMPT_TRUNCATION", "PromptSource", "TextGenEnv", "TextGenVectorEnv", "load_prompts"]


class _TextEnvBase:
    """What the single and the vector env share: prompts, reward and the token batch."""

    def _setup(
        self,
        num_rows: int,
        tokenizer: Any,
        prompts: Sequence[str] | str | Path,
        reward_fn: Any,
        max_prompt_len: int,
        max_new_tokens: int,
        stop_token_ids: Sequence[int] | None,
        vocab_size: int | None,
        prompt_truncation: str,
        chat_template: bool,
    ) -> None:
        self.tokenizer = load_tokenizer(tokenizer)
        self.text_spec = text_spec(
            self.tokenizer, max_prompt_len, max_new_tokens, vocab_size, stop_token_ids
        )
        self.prompts = PromptSource(
            self.tokenizer, prompts, max_prompt_len, prompt_truncation, chat_template
        )
        if reward_fn is None:
            raise ValueError("reward_fn is required: a TextReward, a callable, a path or a spec")
        self.reward = build_text_reward(reward_fn)
        self.reward_name = reward_name(self.reward)
        self.batch = TokenBatch(self.text_spec, num_rows)
        self.prompt_texts: list[str] = [""] * num_rows
        self.prompt_shard = (0, 1)  # (index, count): see TextGenVectorEnv

    def _start(self, rows: np.ndarray, rng: np.random.Generator, texts: Sequence[str] | None):
        """Draws (or takes) prompts for `rows` and loads them into the batch."""
        if texts is None:
            index, count = self.prompt_shard  # every shard draws them all, keeps its own
            picks = rng.integers(len(self.prompts.texts), size=len(rows) * count)[index::count]
            texts = [self.prompts.texts[i] for i in picks]
            ids = [self.prompts.ids[i] for i in picks]
        else:
            if isinstance(texts, str) or len(texts) != len(rows):
                raise ValueError(f"expected {len(rows)} prompts, got {texts!r}")
            ids = [self.prompts.encode(text) for text in texts]
        for row, text in zip(rows.tolist(), texts, strict=True):
            self.prompt_texts[row] = text
        self.batch.load_prompts(rows, ids)

    def _score(self, rows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
        """Decodes the responses of `rows` and scores them: (total, terms, responses)."""
        responses = self.tokenizer.batch_decode(
            [self.batch.response_ids(int(r)) for r in rows], skip_special_tokens=True
        )
        prompts = [self.prompt_texts[int(r)] for r in rows]
        total, terms = evaluate_reward(self.reward, prompts, responses)
        return total, terms, responses


class TextGenEnv(_TextEnvBase, gym.Env):
    r"""One prompt, one response: each action appends a token; the reward comes at the end.

    ## Action Space
    `Discrete(vocab_size)`: the next token id. An id outside it, or a non-integer, raises
    ValueError naming it.

    ## Observation Space
    `Dict(input_ids=MultiDiscrete([vocab_size] * W), attention_mask=MultiBinary(W))` with
    W = `max_prompt_len + max_new_tokens`: the prompt plus the response so far,
    right-aligned (the newest token is the last column), left-padded with the pad token.

    ## Rewards
    0 until the episode ends, then `reward_fn`'s score of (prompt text, decoded response
    without special tokens). `info` at the end carries `"prompt"`, `"response"`,
    `"response_length"` and `"reward_<term>"` for every reward term (a weighted sum reports
    each unweighted term; a single reward its one score).

    ## Episode End
    `terminated` when the token is a stop token (default: the tokenizer's EOS; the stop token
    is part of the response and gets the reward); `truncated` when the response reaches
    `max_new_tokens` tokens.

    ## Arguments
    | Parameter | Default | Description |
    |---|---|---|
    | `tokenizer` | required | a Hugging Face tokenizer, or its name or local path |
    | `prompts` | required | prompt strings, or a .txt/.json/.jsonl file of them |
    | `reward_fn` | required | TextReward, `fn(prompts, responses)`, `"pkg.mod:fn"`, dict spec |
    | `max_prompt_len` | `64` | longest prompt (tokens) |
    | `max_new_tokens` | `32` | response length that truncates the episode |
    | `stop_token_ids` | `None` | tokens that end the response; None: the EOS token |
    | `vocab_size` | `None` | action space size; None: `len(tokenizer)` |
    | `prompt_truncation` | `"error"` | `"left"` keeps an over-long prompt's end (counted) |
    | `chat_template` | `False` | format prompts with the tokenizer's chat template |

    `reset(options={"prompt": text})` starts from a given prompt instead of a random one.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        tokenizer: Any,
        prompts: Sequence[str] | str | Path,
        reward_fn: Any,
        max_prompt_len: int = 64,
        max_new_tokens: int = 32,
        stop_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
        prompt_truncation: str = "error",
        chat_template: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self._setup(
            1, tokenizer, prompts, reward_fn, max_prompt_len, max_new_tokens, stop_token_ids,
            vocab_size, prompt_truncation, chat_template,
        )  # fmt: skip
        self.action_space = spaces.Discrete(self.text_spec.vocab_size)
        self.observation_space = observation_space(self.text_spec)
        self.render_mode = render_mode
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        prompt = (options or {}).get("prompt")
        truncated_before = self.prompts.num_truncated
        self._start(np.array([0]), self.np_random, None if prompt is None else [prompt])
        self._started = True
        info = {
            "prompt": self.prompt_texts[0],
            "prompt_length": int(self.batch.prompt_length[0]),
            "prompt_truncated": self.prompts.num_truncated > truncated_before,
        }
        return self._obs(), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        if not self._started or self.batch.finished[0]:
            raise RuntimeError("the episode is over (or never started): call reset()")
        token = np.asarray(action)
        if token.size != 1:
            raise ValueError(f"action must be one token id, got {action!r}")
        tokens = token.reshape(1)
        self.batch.check_tokens(tokens, np.array([True]))
        terminated, truncated = self.batch.append(tokens.astype(np.int64), np.array([True]))
        info: dict[str, Any] = {"response_length": int(self.batch.response_length[0])}
        reward = 0.0
        if terminated[0] or truncated[0]:
            total, terms, responses = self._score(np.array([0]))
            reward = float(total[0])
            info.update(prompt=self.prompt_texts[0], response=responses[0])
            info.update({f"reward_{name}": float(value[0]) for name, value in terms.items()})
        return self._obs(), reward, bool(terminated[0]), bool(truncated[0]), info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        ids = self.batch.response_ids(0, keep_stop_token=True)
        return self.prompt_texts[0] + self.tokenizer.decode(ids)

    def _obs(self) -> dict[str, np.ndarray]:
        return self.batch.observation(0)


class TextGenVectorEnv(_TextEnvBase, VectorEnv):
    """B prompts stepped as arrays: one `step(tokens)` appends a token to every row.

    The same observation, action, reward and episode rules as :class:`TextGenEnv`, for B
    rows at once. Rewards are scored in one batch for the rows that end on a step.

    Autoreset (`autoreset_mode`):

    - `DISABLED` (default): a finished row stays as it ended (its actions are ignored, its
      reward is 0, its terminated/truncated flags are False) until `reset()` (or
      `reset(options={"reset_mask": mask})`). One rollout is then B whole episodes, one per
      row, as text PPO wants.
    - `NEXT_STEP`: gymnasium's default; the step after a row ends resets it with a new
      prompt and ignores its action.

    `reset(options={"prompts": [...]})` takes B given prompts. `info` holds `(B,)` arrays
    with gymnasium's `"_key"` masks: `response_length` always, and for rows that ended on
    this step `prompt`, `response` and `reward_<term>`.

    `prompt_shard=(index, count)` makes this env one of `count` shares of a batch of
    `count * B` rows (data-parallel ranks, each with its own env): every share draws the
    prompts of all `count * B` rows from the same seed and keeps rows `index, index + count,
    ...`, so together the shares hold the prompts one unshared env of `count * B` rows would
    draw, whenever they all reset the same number of rows (text PPO resets every row before
    each rollout).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.DISABLED}

    def __init__(
        self,
        num_envs: int,
        tokenizer: Any,
        prompts: Sequence[str] | str | Path,
        reward_fn: Any,
        max_prompt_len: int = 64,
        max_new_tokens: int = 32,
        stop_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
        prompt_truncation: str = "error",
        chat_template: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.DISABLED,
        prompt_shard: tuple[int, int] = (0, 1),
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        index, count = prompt_shard
        if not 0 <= index < count:
            raise ValueError(
                f"prompt_shard must be (index, count) with 0 <= index < count, got {prompt_shard}"
            )
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.DISABLED, AutoresetMode.NEXT_STEP):
            raise ValueError(f"autoreset_mode must be DISABLED or NEXT_STEP, got {mode}")
        self._setup(
            num_envs, tokenizer, prompts, reward_fn, max_prompt_len, max_new_tokens,
            stop_token_ids, vocab_size, prompt_truncation, chat_template,
        )  # fmt: skip
        self.num_envs = num_envs
        self.prompt_shard = (int(index), int(count))
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.single_action_space = spaces.Discrete(self.text_spec.vocab_size)
        self.action_space = spaces.MultiDiscrete(np.full(num_envs, self.text_spec.vocab_size))
        self.single_observation_space = observation_space(self.text_spec)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self._reset_next = np.zeros(num_envs, dtype=bool)
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        options = options or {}
        rows = np.arange(self.num_envs)
        if "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must have shape ({self.num_envs},)")
            rows = np.flatnonzero(mask)
        self._start(rows, self.np_random, options.get("prompts"))
        self._reset_next[rows] = False
        self._started = True
        info = {"prompt_length": self.batch.prompt_length.copy()}
        return self.batch.observation(), info

    def step(self, actions: Any) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        tokens = np.asarray(actions)
        if tokens.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tokens.shape}")
        if self._reset_next.any():  # NEXT_STEP: rows that ended last step start over
            self._start(np.flatnonzero(self._reset_next), self.np_random, None)
        active = ~self.batch.finished
        active_before_reset = active & ~self._reset_next
        self.batch.check_tokens(tokens, active_before_reset)
        safe = np.where(active_before_reset, tokens, self.text_spec.pad_token_id).astype(np.int64)
        terminated, truncated = self.batch.append(safe, active_before_reset)
        self._reset_next[:] = False
        rewards = np.zeros(self.num_envs)
        info: dict[str, Any] = {"response_length": self.batch.response_length.copy()}
        ended = np.flatnonzero(terminated | truncated)
        if ended.size:
            total, terms, responses = self._score(ended)
            rewards[ended] = total
            self._put_info(info, "prompt", ended, [self.prompt_texts[i] for i in ended])
            self._put_info(info, "response", ended, responses)
            for name, values in terms.items():
                self._put_info(info, f"reward_{name}", ended, values)
            if self.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP:
                self._reset_next[ended] = True
        return self.batch.observation(), rewards, terminated, truncated, info

    def _put_info(self, info: dict, key: str, rows: np.ndarray, values: Sequence) -> None:
        is_text = isinstance(values, list)
        array = np.full(self.num_envs, None if is_text else 0.0, dtype=object if is_text else float)
        array[rows] = values
        present = np.zeros(self.num_envs, dtype=bool)
        present[rows] = True
        info[key], info[f"_{key}"] = array, present
