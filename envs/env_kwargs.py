"""Constructor arguments for a registered env id, checked before the env is built.

A mistyped argument (``reward_dist_weigth``) would otherwise reach the constructor as a
TypeError deep inside ``gymnasium.make_vec``; this names it and the closest valid name.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gymnasium.envs.registration import load_env_creator, spec

# gymnasium.make's own keyword arguments, which a sync or async vector env passes through it
_MAKE_ARGUMENTS = ("max_episode_steps", "disable_env_checker")


def check_env_kwargs(env_id: str, kwargs: Mapping[str, Any], where: str = "env.kwargs") -> None:
    """Raises ValueError if ``kwargs`` holds a name that ``env_id``'s constructors do not take.

    The names taken are those of the registration's entry point, its vector entry point (if
    any) and ``gymnasium.make``'s own. An entry point that accepts ``**kwargs`` takes any
    name, so nothing is checked for it (gymnasium's ``Reacher-v5``, for one).

    Args:
        env_id: A registered id (``gymnasium.error.Error`` if it is not).
        kwargs: The constructor arguments, e.g. a config's ``env.kwargs``.
        where: How the error names the mapping (``env.kwargs.<key>``).

    Raises:
        ValueError: Naming the first unknown key and the closest valid name, or listing the
            valid names when none is close.
    """
    env_spec = spec(env_id)
    single = _parameters(env_spec.entry_point)
    if single is None:
        return
    known = {*single, *(_parameters(env_spec.vector_entry_point) or ()), *_MAKE_ARGUMENTS}
    known.discard("num_envs")  # make_vec's own argument, set by the config's env.num_envs
    for key in kwargs:
        if key not in known:
            raise ValueError(_unknown_key_message(env_id, key, sorted(single), where))


def _parameters(entry_point: str | Callable[..., Any] | None) -> list[str] | None:
    """The keyword-passable parameter names of a constructor; None if it takes any name."""
    if entry_point is None:
        return []
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    try:
        parameters = inspect.signature(creator).parameters.values()
    except (TypeError, ValueError):  # no signature to read: the constructor checks
        return None
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return None
    passable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [parameter.name for parameter in parameters if parameter.kind in passable]


def _unknown_key_message(env_id: str, key: str, known: Iterable[str], where: str) -> str:
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"it takes: {', '.join(known)}"
    return f"{where}.{key}: {env_id} has no argument {key!r}; {hint}"
