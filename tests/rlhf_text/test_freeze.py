"""train_layers: only the top blocks (and what sits above them) train."""

from __future__ import annotations

import pytest
import torch
import transformers

from rlhf_text.freeze import train_top_layers, transformer_blocks
from rlhf_text.models import ModelConfig, load_causal_lm, load_value_model
from rlhf_text.tiny import TinyModelConfig


def _trainable(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_gpt2_trains_its_top_block_and_final_norm_only(tiny_tokenizer) -> None:
    config = ModelConfig(tiny=TinyModelConfig(n_layer=3, n_embd=32, n_head=2), train_layers=1)
    model = load_causal_lm(config, tiny_tokenizer)
    names = _trainable(model)
    assert names and all(n.startswith(("transformer.h.2.", "transformer.ln_f.")) for n in names)
    assert not model.transformer.wte.weight.requires_grad  # tied to the LM head: frozen
    assert not model.transformer.wpe.weight.requires_grad


def test_a_value_model_keeps_its_scalar_head_trainable(tiny_tokenizer) -> None:
    config = ModelConfig(tiny=TinyModelConfig(n_layer=2, n_embd=32, n_head=2), train_layers=1)
    model = load_value_model(config, tiny_tokenizer)
    names = _trainable(model)
    assert "score.weight" in names
    assert not any(n.startswith("transformer.h.0.") for n in names)


def test_llama_blocks_are_found_and_frozen_bottom_gets_no_gradient() -> None:
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False,
    )  # fmt: skip
    model = transformers.LlamaForCausalLM(config)
    assert transformer_blocks(model) is model.model.layers
    trained = train_top_layers(model, 2)
    assert trained == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert model.lm_head.weight.requires_grad  # untied: it trains
    model(torch.randint(0, 64, (2, 5)), labels=torch.randint(0, 64, (2, 5))).loss.backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad is None
    assert model.model.layers[3].self_attn.q_proj.weight.grad is not None


@pytest.mark.parametrize("layers", [0, 5])
def test_layers_out_of_range_are_refused(layers) -> None:
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    with pytest.raises(ValueError, match="train_layers must be in"):
        train_top_layers(transformers.LlamaForCausalLM(config), layers)


def test_config_refuses_zero_layers() -> None:
    with pytest.raises(ValueError, match="train_layers"):
        ModelConfig(name_or_path="gpt2", train_layers=0)


def test_keep_layers_makes_a_smaller_model_that_saves_and_reloads_as_such(tmp_path) -> None:
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=2, pad_token_id=0,
    )  # fmt: skip
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path / "lm")

    class Tokenizer:
        pad_token_id = 0

    small = ModelConfig(name_or_path=str(tmp_path / "lm"), keep_layers=2, train_layers=1)
    model = load_value_model(small, Tokenizer())
    assert len(model.model.layers) == 2 and model.config.num_hidden_layers == 2
    assert _trainable(model) >= {"score.weight"}
    assert not any(n.startswith("model.layers.0.") for n in _trainable(model))
    model.save_pretrained(tmp_path / "rm")
    again = load_value_model(ModelConfig(name_or_path=str(tmp_path / "rm")), Tokenizer())
    assert len(again.model.layers) == 2
    ids = torch.randint(1, 64, (1, 6))
    assert torch.allclose(again(ids).logits, model(ids).logits)
    with pytest.raises(ValueError, match="keep_layers must be in"):
        load_value_model(ModelConfig(name_or_path=str(tmp_path / "lm"), keep_layers=9),
                         Tokenizer())  # fmt: skip
