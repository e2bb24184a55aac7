"""Reading the raw rows of a preference source: a local file or a hub dataset.

The sources are listed in :mod:`rlhf_text.data`'s table; this module only reads them, as
numbered rows per role (``"train"``, and ``"eval"`` for a named eval split), as they are in
the source, in either schema. Converting them (:mod:`rlhf_text.data_schemas`), checking them
and splitting them is :func:`rlhf_text.data.load_preference_data`'s job, the same for every
kind of source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")
"""file endings read as local files; any other source is a hub dataset name"""


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, row) for each non-blank line; a line that is not JSON stays as its error."""
    rows: list[tuple[int, Any]] = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as err:
                    rows.append((number, err))
    return rows


def read_json(path: Path, names: dict[str, str]) -> dict[str, list[Any]]:
    """Role -> rows of a JSON file: one list (train only), or a mapping of split names."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from err
    if isinstance(content, list):
        if "eval" in names:
            raise ValueError(f"{path} holds one list of rows, so it has no split {names['eval']!r}")
        return {"train": content}
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a list of rows or a mapping of split names to rows")
    for name in names.values():
        if not isinstance(content.get(name), list):
            raise ValueError(f"{path}: no split {name!r} (a list of rows); has {sorted(content)}")
    return {role: content[name] for role, name in names.items()}


def read_parquet(path: Path) -> list[Any]:
    """The rows of a Parquet file as dicts (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq  # only parquet sources need pyarrow
    except ImportError as err:
        raise ImportError(f"reading {path} needs pyarrow: pip install pyarrow") from err
    return pq.read_table(path).to_pylist()


def read_source(source: str, names: dict[str, str], seed: int) -> dict[str, list[tuple[int, Any]]]:
    """Numbered raw rows per role, read from ``source``.

    Args:
        source: ``"embedded"``, a local ``.jsonl``/``.json``/``.parquet`` file or a hub name.
        names: role -> split name: ``{"train": split}``, plus ``"eval"`` for a named eval
            split (only ``.json`` files and hub datasets have named splits).
        seed: seeds the embedded data.

    Returns:
        Role -> ``(row number from 1, row)``; for JSON Lines the number is the line number,
        and a line that is not JSON is kept as its ``json.JSONDecodeError``.

    Raises:
        ValueError: ``names`` asks for an eval split of a source without named splits, or a
            malformed or split-less JSON file.
        FileNotFoundError: a local data file that does not exist.
    """
    if "eval" in names and (source == "embedded" or source.endswith((".jsonl", ".parquet"))):
        raise ValueError(f"{source} has no named splits: use eval_fraction, not eval_split")
    if source == "embedded":
        from rlhf_text.default_data import embedded_rows

        raw = {"train": embedded_rows(seed)}
    elif source.endswith(LOCAL_SUFFIXES):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"data file not found: {path}")
        if path.suffix == ".jsonl":
            return {"train": read_jsonl(path)}
        raw = read_json(path, names) if path.suffix == ".json" else {"train": read_parquet(path)}
    else:
        import datasets  # imported here: only hub sources need it, and it is slow to import

        raw = {role: list(datasets.load_dataset(source, split=n)) for role, n in names.items()}
    return {role: list(enumerate(rows, start=1)) for role, rows in raw.items()}
