"""One run folder for every command: its resolved config, and the rules for resuming it.

``RUN/config.yaml`` records the config a run was started with. Resuming with a different
config would silently mix two experiments (a new seed, clip range or learning rate halfway),
so :func:`check_resume` refuses with the list of changed keys unless the user allows it. The
config file is rewritten only after the checkpoint has been restored, so a resume that fails
leaves the run folder as it was (and ``arm eval`` of it still works).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import yaml

from agents import ranks
from agents.checkpoint import has_checkpoint, remove_checkpoint
from agents.config import ConfigError, from_dict, save_config, to_dict, yaml_problem
from agents.logger import METRICS_NAME

CONFIG_NAME = "config.yaml"

HARMLESS_KEYS = ("progress", "checkpoint_every", "sample_every", "num_samples", "run_dir")
"""keys (at any depth) that may change on resume: they change how a run is watched and kept,
not what it computes"""


TENSORBOARD_DIR = "tb"
"""the TensorBoard folder of every run folder"""


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain-data configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [k for k in new if k not in old]
        out: list[str] = []
        for key in keys:
            out += changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


def check_resume(
    run_dir: str | Path,
    config: Any,
    allow_config_change: bool = False,
    config_name: str = CONFIG_NAME,
    key_prefix: str = "",
) -> list[str]:
    """Refuse to resume ``run_dir`` under a config that differs from the one it started with.

    ``key_prefix`` is put before each changed key in the error, so a run that is one part of
    a bigger config names the key as the user typed it (``text.ppo.iterations``).

    Returns:
        The changed keys that were allowed (harmless ones, or all with
        ``allow_config_change``).

    Raises:
        ConfigError: one line naming the changed keys and the flag that allows them.
    """
    path = Path(run_dir) / config_name
    if not path.is_file():
        return []
    try:
        saved = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {yaml_problem(err)}") from err
    # keys added to the config type since the run started take their defaults; a key since
    # removed or retyped fails to load, and the raw comparison shows it as changed
    with contextlib.suppress(ConfigError):
        saved = to_dict(from_dict(type(config), saved))
    changed = changed_keys(saved, to_dict(config))
    refused = [key for key in changed if key.rsplit(".", 1)[-1] not in HARMLESS_KEYS]
    if refused and not allow_config_change:
        shown = ", ".join(key_prefix + key for key in refused[:8])
        shown += " ..." if len(refused) > 8 else ""
        raise ConfigError(
            f"{run_dir} was started with another config ({shown} changed): resume with the "
            "same config, start afresh with --fresh, or pass --allow-config-change"
        )
    return changed


def start_run(
    run_dir: str | Path,
    config: Any,
    resume: bool,
    allow_config_change: bool = False,
    config_name: str = CONFIG_NAME,
) -> bool:
    """Prepare ``run_dir`` for a run of ``config``; returns whether it resumes.

    A fresh run (``resume`` False, or no checkpoint yet) forgets any old checkpoint and the
    old run's logs (``tb/`` and ``metrics.jsonl``: TensorBoard would draw the discarded run
    under the new one, and its times would count as the new run's) and writes
    ``config.yaml`` at once. A resumed run only checks the config here (see
    :func:`check_resume`); call :func:`commit_config` once its checkpoint is restored.
    In a multi-process run only rank 0 forgets and writes: another rank clearing ``tb/``
    could delete the log rank 0 has just opened.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume and has_checkpoint(run_dir):
        check_resume(run_dir, config, allow_config_change, config_name)
        return True
    if ranks.is_main():
        remove_checkpoint(run_dir)
        shutil.rmtree(run_dir / TENSORBOARD_DIR, ignore_errors=True)
        (run_dir / METRICS_NAME).unlink(missing_ok=True)
        save_config(config, run_dir / config_name)
    return False


def check_before_start(
    run_dir: str | Path,
    config: Any,
    resume: bool,
    allow_config_change: bool = False,
    key_prefix: str = "",
) -> None:
    """What :func:`start_run` will check, checked now: a command that runs several runs in
    turn refuses a changed config before the first of them spends any time."""
    if resume and has_checkpoint(run_dir):
        check_resume(run_dir, config, allow_config_change, key_prefix=key_prefix)


def commit_config(run_dir: str | Path, config: Any, config_name: str = CONFIG_NAME) -> None:
    """Record ``config`` as the run's config (after a successful resume; rank 0 writes it)."""
    if ranks.is_main():
        save_config(config, Path(run_dir) / config_name)
