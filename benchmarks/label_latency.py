"""The labelling app, timed as a person uses it: keypress to next pair, labels per minute,
and arm clips prepared per second (canvas replay against offscreen MuJoCo video).

A scripted labeller in Chromium (Playwright, Debian's ``/usr/bin/chromium``) labels
``--labels`` pairs per mode on a server on localhost, pressing the next key as soon as the
next pair is drawn. The page records, per label, the time from ``keydown`` to the first
animation frame after the next pair is in the DOM (``window.labelTimes``): the request, the
fsynced append, the next pair's payload and the drawing. Clips: the forward-kinematics
frames the page replays (``rlhf_gym.label.clips``), against rendering the same clips as
240x240 offscreen frames with MuJoCo (skipped, with the reason, without OpenGL)::

    .venv/bin/python benchmarks/label_latency.py --labels 100

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the arm)
from rlhf_arm.prefs.segments import SegmentPool
from rlhf_gym.label.clips import DEFAULT_ENV, ClipRenderer
from rlhf_gym.label.queue import append_pairs
from rlhf_gym.label.server import create_app, serving
from rlhf_gym.label.sources import add_arm_from_segments, text_entries


def random_clips(path: Path, starts: int, length: int = 25, seed: int = 0) -> SegmentPool:
    """Two random-action episodes of 100 steps per start, cut into ``length``-step clips."""
    env = gym.make("RLHFGym/ArmReach-v0")
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("obs", "act", "rew", "start", "window")}
    for start in range(starts):
        for _ in range(2):
            env.reset(seed=start)
            actions = rng.uniform(-1, 1, (100, 5)).astype(np.float32)
            steps = [env.step(action) for action in actions]
            for window in range(100 // length):
                cut = slice(window * length, (window + 1) * length)
                rows["obs"].append(np.stack([s[0] for s in steps[cut]]))
                rows["act"].append(actions[cut])
                rows["rew"].append([s[1] for s in steps[cut]])
                rows["start"].append(start)
                rows["window"].append(window)
    env.close()
    count = len(rows["obs"])
    pool = SegmentPool(
        [f"b-s{i:04d}" for i in range(count)],
        np.asarray(rows["obs"], np.float32),
        np.asarray(rows["act"], np.float32),
        np.asarray(rows["rew"], np.float32),
        np.zeros((count, length), bool),
        np.asarray(rows["start"]),
        np.asarray(rows["window"]),
    )
    pool.save(path)
    return pool


def label_in_browser(browser, url: str, count: int, arm: bool) -> dict[str, float]:
    """A scripted labeller presses a key per pair; latency median/p90 (ms), labels/minute."""
    page = browser.new_page(viewport={"width": 1100, "height": 620})
    page.goto(f"{url}/?labeller=bench")
    page.wait_for_selector("body[data-state=ready]")
    start = time.perf_counter()
    for index in range(count):
        before = page.evaluate("document.body.dataset.pair")
        if arm:  # the scripted judgement: the fingertip that ends nearer the target
            left, right = page.evaluate("[current.left, current.right]")
            near = [
                np.linalg.norm(np.subtract(c["points"][-1][-1], c["target"][-1]))
                for c in (left, right)
            ]
            key = "ArrowLeft" if near[0] < near[1] else "ArrowRight"
        else:
            key = "ArrowLeft" if "thanks" in page.inner_text("#left-text") else "ArrowRight"
        page.keyboard.press(key)
        page.wait_for_function(
            "([before, n]) => document.body.dataset.pair !== before && "
            "window.labelTimes.length >= n",
            arg=[before, index + 1],
        )
    seconds = time.perf_counter() - start
    times = page.evaluate("window.labelTimes")
    page.close()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": float(np.percentile(times, 90)),
        "labels_per_minute": 60.0 * count / seconds,
    }


def clips_per_second(pool: SegmentPool, count: int) -> float:
    renderer = ClipRenderer(DEFAULT_ENV)
    start = time.perf_counter()
    for row in range(count):
        renderer.frames(pool.observations[row % len(pool)])
    return count / (time.perf_counter() - start)


def video_clips_per_second(pool: SegmentPool, count: int) -> str:
    """The same clips as 240x240 MuJoCo frames (the video alternative), or why not."""
    warnings.filterwarnings("ignore", module="glfw")  # its probe for a display, not ours
    try:
        from rlhf_arm.video import ensure_gl_backend

        ensure_gl_backend()
        import mujoco

        env = gym.make("RLHFGym/ArmReach-v0")
        arm = env.unwrapped.arm
        data = mujoco.MjData(arm.model)
        renderer = mujoco.Renderer(arm.model, 240, 240)
    except Exception as err:  # no OpenGL here: say so in the table
        return f"n/a: no offscreen OpenGL here ({type(err).__name__})"
    n = len(arm.qpos_adr)
    start = time.perf_counter()
    for row in range(count):
        observations = pool.observations[row % len(pool)]
        for obs in observations:
            data.qpos[arm.qpos_adr] = np.arctan2(obs[n : 2 * n], obs[:n])
            mujoco.mj_kinematics(arm.model, data)
            renderer.update_scene(data)
            renderer.render()
    return f"{count / (time.perf_counter() - start):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=100, help="labels per mode")
    parser.add_argument(
        "--chromium", default=os.environ.get("RLHF_GYM_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as driver:
        tmp = Path(tmp)
        words = ["sun", "tree", "road", "blue", "green"]
        triples = [
            (
                f"Human: Say something, {i}. Assistant:",
                f" thanks {words[i % 5]}",
                f" {words[i % 5]} no",
            )
            for i in range(args.labels + 5)
        ]
        append_pairs(tmp / "text", text_entries(triples, "t-", seed=0))
        pool = random_clips(tmp / "clips.npz", starts=args.labels // 4 + 2)
        add_arm_from_segments(tmp / "arm", tmp / "clips.npz", limit=args.labels + 5)
        browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for mode in ("text", "arm"):
            with serving(create_app(tmp / mode)) as url:
                result = label_in_browser(browser, url, args.labels, arm=mode == "arm")
            rows.append((mode, result))
        browser.close()
    print("| mode | labels | keypress -> next pair, median (ms) | p90 (ms) | labels/minute |")
    print("|---|---|---|---|---|")
    for mode, result in rows:
        print(
            f"| {mode} | {args.labels} | {result['median_ms']:.1f} | {result['p90_ms']:.1f} | "
            f"{result['labels_per_minute']:.0f} |"
        )
    print()
    print("| arm clips (25 steps) | clips/second |")
    print("|---|---|")
    replay = clips_per_second(pool, 2000)
    print(f"| canvas replay frames (forward kinematics, as served) | {replay:.0f} |")
    print(f"| MuJoCo offscreen video, 240x240 | {video_clips_per_second(pool, 40)} |")
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
