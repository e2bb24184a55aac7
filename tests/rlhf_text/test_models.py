"""Loading models and tokenizers: local directories, tiny models, clear errors, safe kwargs."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from agents.config import ConfigError, load_config
from rlhf_text import models
from rlhf_text.models import (
    ModelConfig,
    load_causal_lm,
    load_tokenizer,
    load_value_model,
    resolve_name_or_path,
)
from rlhf_text.policy import value_head
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm

SMALL = TinyModelConfig(n_layer=2, n_embd=32, n_head=2, n_positions=64)
TEXTS = ["Human: How do I keep basil alive? Assistant: Water it when the soil is dry."] * 10


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny causal LM and its tokenizer written by save_pretrained."""
    directory = tmp_path_factory.mktemp("lm")
    tiny_causal_lm(tiny_tokenizer, SMALL, seed=3).save_pretrained(directory)
    tiny_tokenizer.save_pretrained(directory)
    return directory


def test_causal_lm_loads_from_a_local_directory(lm_dir, tiny_tokenizer):
    config = ModelConfig(name_or_path=str(lm_dir))
    tokenizer = load_tokenizer(config)
    model = load_causal_lm(config, tokenizer)
    reference = tiny_causal_lm(tiny_tokenizer, SMALL, seed=3)
    for (name, loaded), original in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(loaded, original), name
    assert model.training
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.padding_side == "left"


def test_value_model_from_a_causal_lm_directory_gets_a_new_scalar_head(lm_dir):
    config = ModelConfig(name_or_path=str(lm_dir))
    tokenizer = load_tokenizer(config)
    model = load_value_model(config, tokenizer)
    assert model.config.num_labels == 1
    assert value_head(model).out_features == 1
    assert model.config.pad_token_id == tokenizer.pad_token_id
    lm = AutoModelForCausalLM.from_pretrained(lm_dir)
    assert torch.equal(model.transformer.wte.weight, lm.transformer.wte.weight)


def test_value_model_directory_keeps_its_head(lm_dir, tmp_path):
    config = ModelConfig(name_or_path=str(lm_dir))
    tokenizer = load_tokenizer(config)
    first = load_value_model(config, tokenizer)
    first.save_pretrained(tmp_path)
    again = load_value_model(ModelConfig(name_or_path=str(tmp_path)), tokenizer)
    assert torch.equal(value_head(again).weight, value_head(first).weight)


def test_missing_local_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_model"
    for loader in (load_causal_lm, load_value_model):
        with pytest.raises(FileNotFoundError, match="no_such_model"):
            loader(ModelConfig(name_or_path=str(missing)), None)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_tokenizer(ModelConfig(name_or_path="./runs/none/sft"))
    assert resolve_name_or_path("gpt2") == "gpt2"  # a hub name is passed on
    assert resolve_name_or_path("owner/model") == "owner/model"


def _record_from_pretrained(monkeypatch, calls):
    def fake(name, **kwargs):
        calls.append((name, kwargs))
        raise RuntimeError("stop after recording")

    import transformers

    for cls in ("AutoModelForCausalLM", "AutoModelForSequenceClassification", "AutoTokenizer"):
        monkeypatch.setattr(getattr(transformers, cls), "from_pretrained", fake)


def test_remote_code_stays_off_unless_asked(monkeypatch):
    calls = []
    _record_from_pretrained(monkeypatch, calls)
    config = ModelConfig(name_or_path="owner/model", gguf_file="model-q8.gguf")
    for load in (load_tokenizer, lambda c: load_causal_lm(c, None)):
        with pytest.raises(RuntimeError, match="recording"):
            load(config)
    with pytest.raises(RuntimeError, match="recording"):
        load_value_model(config, None)
    assert [name for name, _ in calls] == ["owner/model"] * 3
    assert all(kwargs["trust_remote_code"] is False for _, kwargs in calls)
    assert all(kwargs["gguf_file"] == "model-q8.gguf" for _, kwargs in calls)
    assert calls[2][1]["num_labels"] == 1
    calls.clear()
    with pytest.raises(RuntimeError):
        load_causal_lm(ModelConfig(name_or_path="owner/model", trust_remote_code=True), None)
    assert calls[0][1]["trust_remote_code"] is True


def test_tokenizer_without_pad_token_gets_eos(lm_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(lm_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(ModelConfig(name_or_path=str(lm_dir), tokenizer=str(tmp_path)))
    assert loaded.pad_token == loaded.eos_token
    assert loaded.padding_side == "left"


def test_tiny_model_trains_its_tokenizer_on_the_texts():
    config = ModelConfig(tiny=SMALL, tokenizer_vocab_size=300, tokenizer_min_frequency=1)
    tokenizer = load_tokenizer(config, TEXTS)
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert 256 < len(tokenizer) <= 300
    model = load_causal_lm(config, tokenizer, seed=1)
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.n_layer == SMALL.n_layer
    value = load_value_model(config, tokenizer)
    assert value.config.num_labels == 1
    with pytest.raises(ValueError, match="texts"):
        load_tokenizer(config)


def test_bfloat16_dtype(lm_dir):
    config = ModelConfig(name_or_path=str(lm_dir), dtype="bfloat16")
    model = load_causal_lm(config, load_tokenizer(config))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_config_needs_a_source_and_checks_keys(tmp_path):
    with pytest.raises(ValueError, match="name_or_path"):
        ModelConfig()
    assert not ModelConfig(name_or_path="gpt2", tiny=SMALL).builds_tiny  # the name wins
    assert ModelConfig(tiny=SMALL).builds_tiny
    path = tmp_path / "model.yaml"
    path.write_text("name_or_path: gpt2\ntrust_remote_cod: true\n")
    with pytest.raises(ConfigError, match="trust_remote_cod"):
        load_config(ModelConfig, path)
    path.write_text("tiny: {n_layer: 1}\ndtype: float16\n")
    with pytest.raises(ConfigError, match="dtype"):
        load_config(ModelConfig, path)
    assert ModelConfig(name_or_path="gpt2").trust_remote_code is False
    # a step's tiny default stays in place under a name override, and the name wins
    from rlhf_text.sft import SFTConfig

    assert SFTConfig().model.builds_tiny
    assert not load_config(SFTConfig, None, ["model.name_or_path=gpt2"]).model.builds_tiny
    assert load_config(SFTConfig, None, ["model.tiny.n_layer=3"]).model.tiny.n_layer == 3
    assert models.DTYPES["bfloat16"] is torch.bfloat16


def test_an_unreachable_hub_name_is_named_with_a_hint_for_smollm2(monkeypatch):
    import transformers

    def offline(name, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    with pytest.raises(OSError, match="'models/smollm2-135m-instruct'.*fetch-smollm2"):
        load_tokenizer(ModelConfig(name_or_path="models/smollm2-135m-instruct"))
    with pytest.raises(OSError, match="'owner/model'") as error:
        load_tokenizer(ModelConfig(name_or_path="owner/model"))
    assert "fetch-smollm2" not in str(error.value)


def test_a_bidirectional_encoder_is_refused_as_value_model(tmp_path, tiny_tokenizer):
    """A BERT critic's value at token t would see tokens after t: load_value_model refuses it."""
    from transformers import BertConfig, BertForMaskedLM

    bert = BertConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertForMaskedLM(bert).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"'.*' \(bert\) is not a causal decoder"):
        load_value_model(ModelConfig(name_or_path=str(tmp_path)), tiny_tokenizer)


def test_is_causal_tells_decoders_from_encoders():
    from transformers import BartConfig, BertConfig, GPT2Config, LlamaConfig

    assert models.is_causal(GPT2Config()) and models.is_causal(LlamaConfig())
    assert models.is_causal(BertConfig(is_decoder=True))  # BERT built as a causal LM
    assert not models.is_causal(BertConfig())
    assert not models.is_causal(BartConfig())  # encoder-decoder: the encoder sees everything
