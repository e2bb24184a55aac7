"""TokenActorCritic: a causal language model as an ActorCritic for the shared PPO core.

The actor's recurrent state is its KV cache. On the first step of a rollout it reads the
whole observation (prompt, left-padded) once; after that the text env has appended the
chosen token as the observation's last column and the actor reads only that token, so the
env-driven rollout costs what ``model.generate`` costs (tests/rlhf_text/test_policy.py shows
it yields exactly ``generate``'s tokens: greedy, and sampled once ``generate`` draws from the
same per-row uniforms, :mod:`rlhf_text.sampling`). Nothing is replayed.

A separate critic (a transformer with a scalar head, the default) is not run per token:
``act`` returns ``values=None`` and :meth:`TokenActorCritic.rollout_values` scores the whole
rollout in one forward pass, as DeepSpeed-Chat's ``generate_experience`` does. A shared value
head (``critic=None``) reads the hidden state the actor's step has already computed, so a
rollout's values cost nothing beyond generation.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from agents.policy import ActOutput, EvalOutput
from agents.rollout import RolloutBatch
from rlhf_text.sampling import (
    SamplingConfig,
    make_warpers,
    rollout_sampler,
    row_uniforms,
    sample_tokens,
)
from rlhf_text.shared_trunk import record_block_outputs, replay_trunk, trunk_rows

__all__ = ["LMState", "SamplingConfig", "TokenActorCritic", "value_head"]


@dataclass
class LMState:
    """The actor's recurrent state between env steps."""

    cache: Any  # the model's KV cache (a transformers Cache)
    attention_mask: torch.Tensor  # (B, S) over everything in the cache
    last_position: torch.Tensor  # (B,) position id of the newest token
    sampler: torch.Generator | None = None  # this rollout's uniforms (TokenActorCritic.act)


def value_head(model: nn.Module) -> nn.Linear:
    """The scalar head of a ``*ForSequenceClassification`` model (``score`` or ``classifier``)."""
    for name in ("score", "classifier", "v_head"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Linear) and head.out_features == 1:
            return head
    raise ValueError(
        f"{type(model).__name__} has no scalar head (score/classifier with 1 output): load the "
        "critic with AutoModelForSequenceClassification.from_pretrained(..., num_labels=1)"
    )


def disable_dropout(model: nn.Module) -> None:
    """Switches every dropout off, so that PPO's first minibatch sees ratio 1 exactly.

    TRL and DeepSpeed-Chat (``--disable_actor_dropout``) do the same: with dropout the
    behaviour policy that sampled a token is not the policy the update scores. Covers
    ``nn.Dropout`` modules and the float rates attention modules keep (``attention_dropout``).
    """
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name in ("attention_dropout", "dropout", "attn_pdrop", "resid_pdrop"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)


def _cache_kwarg(model: nn.Module) -> str:
    """transformers 5 calls the KV cache ``cache``; 4.x called it ``past_key_values``."""
    if hasattr(model, "get_base_model"):  # a peft model passes the kwargs through
        model = model.get_base_model()
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of a left-padded batch, as ``generate`` makes them."""
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 0)


def _trim_left(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drops the columns that are padding in every row (the env pads to a fixed window)."""
    used = mask.any(0).nonzero()
    start = int(used[0]) if used.numel() else 0
    return ids[:, start:], mask[:, start:].long()


class TokenActorCritic(nn.Module):
    """An actor causal LM and a critic with a scalar value head, for token-level PPO.

    Args:
        actor: a transformers causal LM (``AutoModelForCausalLM``).
        critic: a ``*ForSequenceClassification`` model with one label whose head reads every
            position (values per token), or None to put a fresh scalar head on the actor's
            last hidden state (shared trunk).
        sampling: temperature, top-k, top-p used by :meth:`act`.
        entropy_grad: keep the entropy in the autograd graph; with PPO's ``ent_coef == 0``
            turn it off, which frees (B, T, V) tensors before the backward pass.
    """

    def __init__(
        self,
        actor: nn.Module,
        critic: nn.Module | None = None,
        sampling: SamplingConfig | None = None,
        entropy_grad: bool = True,
    ) -> None:
        super().__init__()
        self.entropy_grad = entropy_grad
        self.actor = actor
        self.critic = critic
        for model in (actor, critic):
            if model is not None:
                disable_dropout(model)
        self.sampling = sampling or SamplingConfig()
        if critic is None:
            hidden = actor.config.hidden_size
            self.shared_value_head = nn.Linear(hidden, 1)
            nn.init.zeros_(self.shared_value_head.weight)
            nn.init.zeros_(self.shared_value_head.bias)
        else:
            value_head(critic)  # fail early on a critic without a scalar head
        self._actor_cache_kwarg = _cache_kwarg(actor)
        self._warpers = make_warpers(self.sampling)
        # (index, count): this process samples share `index` of a batch shared out by
        # `count` data-parallel ranks (rows index, index + count, ...); set by the builder
        self.sample_shard = (0, 1)
        # frozen bottom blocks whose output a rollout records once for every later pass
        # (rlhf_text.shared_trunk); set by the builder, 0 keeps every pass whole
        self.actor_trunk_blocks = 0
        self.critic_trunk_blocks = 0

    # -- collection -------------------------------------------------------------------------

    def _actor_step(
        self, observations: dict[str, torch.Tensor], state: LMState | None
    ) -> tuple[torch.Tensor, LMState, torch.Tensor | None]:
        """Next-token logits (B, V) in float32, feeding only what the cache has not seen, the
        new state, and with a shared value head the values V(observations) (B,), read off
        the same pass's last hidden state (None with a separate critic)."""
        if state is None:
            ids, mask = _trim_left(observations["input_ids"], observations["attention_mask"])
            positions = _positions(mask)
            cache = None
        else:
            ids = observations["input_ids"][:, -1:]
            ones = state.attention_mask.new_ones((ids.shape[0], 1))
            mask = torch.cat([state.attention_mask, ones], dim=1)
            positions = (state.last_position + 1)[:, None]
            cache = state.cache
        with self._head_input() as head_input:
            out = self.actor(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
                **{self._actor_cache_kwarg: cache},
            )
        new_cache = out["cache"] if "cache" in out else out.get("past_key_values")
        logits = out.logits[:, -1].to(dtype=torch.float32, copy=True)
        values = None
        if head_input:  # the last hidden state, as the LM head read it
            values = self.shared_value_head(head_input[0][:, -1]).squeeze(-1).float()
        return logits, LMState(new_cache, mask, positions[:, -1]), values

    @contextlib.contextmanager
    def _head_input(self) -> Iterator[list[torch.Tensor]]:
        """With a shared value head, collects what the actor's LM head reads: the final
        hidden state. A hook on the head costs nothing; ``output_hidden_states`` would make
        transformers capture every block's output, which costs most at batch 1."""
        seen: list[torch.Tensor] = []
        head = self.actor.get_output_embeddings() if self.critic is None else None
        if head is None:
            yield seen
            return
        hook = head.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
        try:
            yield seen
        finally:
            hook.remove()

    @torch.no_grad()
    def act(
        self,
        observations: dict[str, torch.Tensor],
        state: LMState | None = None,
        deterministic: bool = False,
    ) -> ActOutput:
        """Sample the next token of every row.

        Args:
            observations: ``input_ids`` and ``attention_mask``, (B, W) each, from the text env.
            state: None at the start of a rollout, then the returned state.
            deterministic: greedy (argmax of the raw logits), as ``generate(do_sample=False)``.

        Returns:
            tokens (B,), log-probs (B,) under softmax(logits / temperature), the values
            V(observations) of a shared value head (None with a separate critic: see
            :meth:`rollout_values`), and the new state.
        """
        logits, new_state, values = self._actor_step(observations, state)
        if deterministic:
            tokens = logits.argmax(-1)
        else:
            scores = logits
            for warper in self._warpers:
                scores = warper(None, scores)
            probs = F.softmax(scores, dim=-1)
            new_state.sampler = (state.sampler if state is not None else None) or rollout_sampler()
            uniforms = row_uniforms(new_state.sampler, len(probs), self.sample_shard)
            tokens = sample_tokens(probs, uniforms)
        logprobs = F.log_softmax(logits / self.sampling.temperature, dim=-1)
        logprob = logprobs.gather(-1, tokens[:, None]).squeeze(-1)
        return ActOutput(tokens, logprob, values, new_state)

    # -- whole responses --------------------------------------------------------------------

    @staticmethod
    def sequences(
        observations: dict[str, torch.Tensor], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Prompt + response ids and mask, and the prompt width P.

        ``observations`` are the first step's (``[B, 1, W]`` or ``[B, T, W]``: step 0 is
        used). Tokens after a row's end are kept (causal attention: they cannot change the
        real tokens' outputs, and the loss masks them).
        """
        first = {k: v[:, 0] if v.dim() == 3 else v for k, v in observations.items()}
        ids, mask = _trim_left(first["input_ids"], first["attention_mask"])
        full_ids = torch.cat([ids, actions.to(ids.dtype)], dim=1)
        full_mask = torch.cat([mask, mask.new_ones(actions.shape)], dim=1)
        return full_ids, full_mask, ids.shape[1]

    def _values(
        self, ids: torch.Tensor, mask: torch.Tensor, keep: int, extras: dict[str, Any]
    ) -> torch.Tensor:
        """V at the last ``keep`` positions, (B, keep)."""
        positions = _positions(mask)
        if self.critic is None:
            with self._replaying("actor", extras, ids.shape[1]) as actor:
                out = actor(
                    input_ids=ids, attention_mask=mask, position_ids=positions,
                    output_hidden_states=True, use_cache=False, logits_to_keep=1,
                )  # fmt: skip
            hidden, head = out.hidden_states[-1], self.shared_value_head
        else:
            with self._replaying("critic", extras, ids.shape[1]) as critic:
                out = critic.base_model(
                    input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False
                )
            hidden, head = out.last_hidden_state, value_head(self.critic)
        return head(hidden[:, -keep:]).squeeze(-1).float()

    def _replaying(
        self, role: str, extras: dict[str, Any], width: int
    ) -> contextlib.AbstractContextManager[nn.Module]:
        """The actor or critic, its frozen trunk replayed from ``extras[role + "_trunk"]``
        (recorded by :meth:`recording_trunk`) when the rollout kept one."""
        model = self.actor if role == "actor" else self.critic
        recorded = extras.get(f"{role}_trunk")
        if recorded is None:
            return contextlib.nullcontext(model)
        count = getattr(self, f"{role}_trunk_blocks")
        return replay_trunk(model, count, trunk_rows(recorded, width))

    @contextlib.contextmanager
    def recording_trunk(
        self, role: str, extras: dict[str, Any], also: tuple[int, ...] = ()
    ) -> Iterator[dict[int, Any]]:
        """Within the block, a pass of the actor or critic over a whole rollout keeps its
        frozen trunk's output in ``extras[role + "_trunk"]``, for every later pass of the
        update (:meth:`evaluate`); ``also`` records the outputs of further blocks."""
        model = self.actor if role == "actor" else self.critic
        count = getattr(self, f"{role}_trunk_blocks")
        indices = [n - 1 for n in (count, *also) if n > 0]
        with record_block_outputs(model, indices) as outputs:
            yield outputs
        if count and isinstance(outputs.get(count - 1), torch.Tensor):
            extras[f"{role}_trunk"] = outputs[count - 1]

    def evaluate(
        self,
        observations: dict[str, torch.Tensor],
        actions: torch.Tensor,
        extras: dict[str, torch.Tensor] | None = None,
    ) -> EvalOutput:
        """Log-probs, entropies and values of whole responses, one forward pass each.

        Args:
            observations: the rollout's observations (step 0 is used), ``[B, 1 or T, W]``.
            actions: (B, T) response tokens.

        Returns:
            logprobs, entropy, values: (B, T) each; position t scores token t given the
            prompt and tokens before it.
        """
        ids, mask, _ = self.sequences(observations, actions)
        t = actions.shape[1]
        extras = extras or {}
        with self._replaying("actor", extras, ids.shape[1]) as actor, self._head_input() as head:
            out = actor(
                input_ids=ids,
                attention_mask=mask,
                position_ids=_positions(mask),
                use_cache=False,
                logits_to_keep=t + 1,
            )
        logits = out.logits[:, :t].float() / self.sampling.temperature  # (B, T, V)
        logprobs_all = F.log_softmax(logits, dim=-1)
        logprobs = logprobs_all.gather(-1, actions[..., None].long()).squeeze(-1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.entropy_grad):
            entropy = -(logprobs_all.exp() * logprobs_all).sum(-1)  # (B, T)
        if head:  # a shared value head reads this same pass: the LM head's input
            hidden = head[0][:, -(t + 1) : -1]  # the positions of V(prefix before token t)
            values = self.shared_value_head(hidden).squeeze(-1).float()
        else:
            values = self._values(ids, mask, t + 1, extras)[:, :t]
        return EvalOutput(logprobs=logprobs, entropy=entropy, values=values)

    @torch.no_grad()
    def rollout_values(self, batch: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values, next_values)``, (B, T) each, of a collected rollout in one pass.

        ``values[:, t]`` is V(prompt + tokens before t) and ``next_values[:, t]`` is
        V(prompt + tokens up to t), so the last real step's next value is V(final text).
        """
        ids, mask, _ = self.sequences(batch.observations, batch.actions)
        t = batch.actions.shape[1]
        with self.recording_trunk("actor" if self.critic is None else "critic", batch.extras):
            both = self._values(ids, mask, t + 1, {})
        return both[:, :t], both[:, 1:]

    @torch.no_grad()
    def value(self, observations: dict[str, torch.Tensor], state: Any = None) -> torch.Tensor:
        """V of (B, W) observations, (B,). The critic reads the whole text; a shared value
        head given the rollout's state reads only the newest token, through the KV cache
        (which grows by that token: the end of a rollout)."""
        if self.critic is None and state is not None:
            return self._actor_step(observations, state)[2]
        ids, mask = _trim_left(observations["input_ids"], observations["attention_mask"])
        return self._values(ids, mask, 1, {})[:, 0]
