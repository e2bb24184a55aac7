"""``rlhf-gym label FOLDER``: the labelling app (rlhf_gym/label), optionally filling its queue."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from typing import Any

from rlhf_gym.text_cli import add_overrides

DEFAULT_PORT = 8765


def add_label_parser(worlds: argparse._SubParsersAction) -> None:
    """Adds the ``label`` command to the top-level parser."""
    label = worlds.add_parser(
        "label",
        help="the labelling app: a person compares two answers or two arm clips",
        description="Serve a labelling folder (pairs.jsonl in, labels.jsonl out) at "
        "http://HOST:PORT/ and print that address; nothing is opened. See docs/labelling.md.",
    )
    label.add_argument("folder", help="the labelling folder (created if missing)")
    label.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    label.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    label.add_argument(
        "--token", default=None, help="secret every request must carry; needed off loopback"
    )
    label.add_argument(
        "--labels-per-pair", type=int, default=1, help="labellers asked per pair (agreement)"
    )
    label.add_argument(
        "--reward-model",
        default=None,
        help="score it on the labels for /stats: a reward_fn.npz (arm) or an RM directory (text)",
    )
    fill = label.add_argument_group("add pairs to the queue first")
    fill.add_argument("--text-data", default=None, help="a preference data set (as data.source)")
    fill.add_argument(
        "--text-model", default=None, help="sample two answers of this model to --text-data prompts"
    )
    fill.add_argument("--segments", default=None, help="arm clips: a segments.npz")
    fill.add_argument("--limit", type=int, default=50, help="pairs to add (default: %(default)s)")
    fill.add_argument("--seed", type=int, default=0, help="draws pairs and their sides")
    loop = label.add_argument_group("text online rounds (rlhf_text.online), served here")
    loop.add_argument(
        "--text-online",
        default=None,
        metavar="CONFIG",
        help="a text config: each round the actor answers twice, people label here, the "
        "reward model refits and PPO continues; resumes unless --fresh",
    )
    loop.add_argument("--fresh", action="store_true", help="with --text-online: start over")
    add_overrides(label, "online.rounds=2, with --text-online")


def fill_queue(args: argparse.Namespace) -> list[str]:
    """Adds the pairs the flags ask for; one line per source added."""
    from rlhf_gym.label import sources

    if args.limit < 1:
        raise ValueError("--limit must be >= 1")
    if args.text_model and not args.text_data:
        raise ValueError("--text-model needs --text-data (the prompts it answers)")
    added = []
    if args.text_model:
        count = sources.add_text_from_model(
            args.folder, args.text_model, args.text_data, args.limit, args.seed
        )
        added.append(f"{count} text pairs sampled from {args.text_model}")
    elif args.text_data:
        count = sources.add_text_from_data(args.folder, args.text_data, args.limit, args.seed)
        added.append(f"{count} text pairs from {args.text_data}")
    if args.segments:
        count = sources.add_arm_from_segments(args.folder, args.segments, args.limit, args.seed)
        added.append(f"{count} arm clip pairs from {args.segments}")
    return added


def run_label(args: argparse.Namespace) -> None:
    """Fills the queue as asked, then serves the folder until Ctrl-C."""
    from rlhf_gym.label.server import bind, check_bind, create_app, is_loopback, make_server

    check_bind(args.host, args.token)
    if args.labels_per_pair < 1:
        raise ValueError("--labels-per-pair must be >= 1")
    for line in fill_queue(args):
        print(f"added {line}")
    app = create_app(
        args.folder,
        token=args.token,
        loopback_only=is_loopback(args.host),
        labels_per_pair=args.labels_per_pair,
        reward_model=args.reward_model,
    )
    if args.text_online is not None:
        run_text_online(args, app)
        return
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    query = "?token=..." if args.token else ""
    print(f"labelling {args.folder} at http://{shown}:{port}/{query} (Ctrl-C stops)", flush=True)
    make_server(app).run(sockets=[sock])


def run_text_online(args: argparse.Namespace, app: Any) -> None:
    """The text online loop of ``--text-online``, with the app served while it runs."""
    from agents.config import load_config
    from configs import resolve_config
    from rlhf_gym.label.server import serving
    from rlhf_text.online import OnlineTextConfig, run_online

    overrides = [*args.overrides, f"online.label_folder={json.dumps(str(args.folder))}"]
    path = resolve_config(args.text_online, "rlhf-gym text")
    config = load_config(OnlineTextConfig, path, overrides)
    app.state.label.queue.labels_per_pair = config.online.quorum  # the loop's quorum rules
    with serving(app, args.host, args.port) as url:
        print(f"labelling {args.folder} at {url}/ while the online rounds run", flush=True)
        history = run_online(config, resume=not args.fresh)
    for row in history:
        print(
            f"round {row['round']}: {row['labels']} human labels, reward-model accuracy on "
            f"them {row['rm/accuracy_human']:.2f}"
        )


@contextlib.contextmanager
def labelling_for(config: Any) -> Iterator[None]:
    """While ``rlhf-gym arm prefs`` runs with ``prefs.oracle=human``: serves its labelling
    folder on ``prefs.label_port`` if set, else says how to serve it."""
    prefs = config.prefs
    if prefs.oracle != "human":
        yield
        return
    from rlhf_arm.prefs.loop import label_folder

    folder = label_folder(config)
    if prefs.label_port is None:
        print(
            f"label the pairs with: rlhf-gym label {folder} --labels-per-pair {prefs.quorum}",
            flush=True,
        )
        yield
        return
    from rlhf_gym.label.server import create_app, serving

    app = create_app(folder, labels_per_pair=prefs.quorum)
    with serving(app, port=prefs.label_port) as url:
        print(f"labelling app for this run at {url}/ (it stops with the run)", flush=True)
        yield
