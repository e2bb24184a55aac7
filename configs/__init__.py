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

COMMAND_CONFIGS = {
    "rlhf-gym demo": ("demo",),
    "rlhf-gym arm train": ("reach", "so101"),  # arm sweep's too
    "rlhf-gym arm prefs": ("prefs",),
    "rlhf-gym text": ("text/tiny", "text/smollm2-135m", "text/opt-350m"),  # label --text-online
}
"""the shipped configs each command takes, by the names its help shows"""

PARTS = ("arm/physics/randomization", "arm/physics/sim_to_sim")
"""shipped configs that no command runs: other configs point to them (``env.physics``)"""


def shipped_configs() -> dict[str, Path]:
    """Every shipped YAML config by name: its path under this package without the suffix
    (``"arm/reach"``, ``"demo"``, ``"text/tiny"``)."""
    # A regular package installed as files (pip, or an editable install) is a directory.
    root = Path(str(files(__name__)))
    return {
        path.relative_to(root).with_suffix("").as_posix(): path
        for path in sorted(root.rglob(f"*{SUFFIX}"))
    }


def config_help(command: str) -> str:
    """``--config``'s help for ``command`` (a key of :data:`COMMAND_CONFIGS`)."""
    names = ", ".join(COMMAND_CONFIGS[command])
    return f"YAML config: a path, or a shipped config's name ({names}); default: %(default)s"


def resolve_config(spec: str | Path, command: str | None = None) -> Path:
    """The YAML file that ``spec`` names: an existing path first, else a shipped config.

    A shipped config is named by its path under ``configs/`` with or without the suffix and
    that prefix (``arm/reach``, ``configs/arm/reach.yaml``: so a path written relative to the
    repository resolves from any folder), or by its bare file name when one config has it
    (``reach``, ``prefs``, ``demo``, ``tiny``).

    With ``command`` (a key of :data:`COMMAND_CONFIGS`), a shipped config made for another
    command is refused, naming the command it is for and the ones this command takes: its keys
    would otherwise fail one by one as unknown.

    Raises:
        FileNotFoundError: Naming ``spec`` and the shipped names, or the configs a bare name
            could mean when several share it.
        ValueError: ``spec`` is a shipped config of another command.
    """
    path = _find_config(spec)
    if command is not None:
        _check_command(spec, path, command)
    return path


def _check_command(spec: str | Path, path: Path, command: str) -> None:
    here = path.resolve()
    if here not in {shipped.resolve() for shipped in shipped_configs().values()}:
        return  # the user's own file
    owner = next(
        (
            owner
            for owner, names in COMMAND_CONFIGS.items()
            if here in {_find_config(name).resolve() for name in names}
        ),
        None,
    )
    if owner == command:
        return
    what = f"a config for {owner}" if owner else "a part other configs point to"
    names = COMMAND_CONFIGS[command]
    shape = "its shape" if len(names) == 1 else "their shape"
    raise ValueError(
        f"config {str(spec)!r} is {what}; {command} takes {', '.join(names)}, or a YAML file "
        f"of {shape}"
    )


def _find_config(spec: str | Path) -> Path:
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
