"""The YAML configs shipped with rlhf-gym, as package data, and how a command finds one.

``rlhf-gym ... --config X`` takes a path, or the name of a shipped config, so that the
defaults work from any folder (``pip install`` puts these files beside the code)::

    reach, prefs          arm/reach.yaml, arm/prefs.yaml
    demo                  demo.yaml
    text/tiny, tiny       text/tiny.yaml (also text/smollm2-135m, text/opt-350m)

This package imports nothing of the project: any layer may use it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SUFFIX = ".yaml"
_PREFIX = "configs/"


def shipped_configs() -> dict[str, Path]:
    """Every shipped YAML config by name: its path under this package without the suffix
    (``"arm/reach"``, ``"demo"``, ``"text/tiny"``)."""
    # A regular package installed as files (pip, or an editable install) is a directory.
    root = Path(str(files(__name__)))
    return {
        path.relative_to(root).with_suffix("").as_posix(): path
        for path in sorted(root.rglob(f"*{SUFFIX}"))
    }


def resolve_config(spec: str | Path) -> Path:
    """The YAML file that ``spec`` names: an existing path first, else a shipped config.

    A shipped config is named by its path under ``configs/`` with or without the suffix and
    that prefix (``arm/reach``, ``configs/arm/reach.yaml``: so a path written relative to the
    repository resolves from any folder), or by its bare file name when one config has it
    (``reach``, ``prefs``, ``demo``, ``tiny``).

    Raises:
        FileNotFoundError: Naming ``spec`` and the shipped names, or the configs a bare name
            could mean when several share it.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    shipped = shipped_configs()
    name = path.as_posix().removeprefix(_PREFIX).removesuffix(SUFFIX)
    if name in shipped:
        return shipped[name]
    matches = [key for key in shipped if "/" not in name and key.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return shipped[matches[0]]
    if matches:
        raise FileNotFoundError(f"config {str(spec)!r} is ambiguous: {', '.join(matches)}")
    raise FileNotFoundError(
        f"config file not found: {spec} (not a file here, nor a shipped config: "
        f"{', '.join(shipped)})"
    )
