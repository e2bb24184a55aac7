"""The demo's report: one list of blocks, rendered twice, as Markdown and as HTML.

The blocks are headings, paragraphs, Markdown tables, images and shell commands; the tables
come as Markdown (the text pipeline writes its tables that way) and :func:`table_html`
converts them, so ``report.md`` and ``report.html`` say the same thing. Images are files
next to the reports, so the folder is self-contained: open ``report.html`` in any browser.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from agents.logger import read_metrics
from rlhf_text.pipeline_report import (
    degeneration_rows,
    judge_rows,
    probe_rows,
    win_counts_text,
)
from rlhf_text.report import plot_curves

ARM_CURVES = {
    "rollout/final_is_success": "success rate (training rollouts)",
    "rollout/ep_return": "episode return",
    "rollout/final_distance": "final distance (m)",
}


class Block(NamedTuple):
    """One piece of the report: ``kind`` is h1, h2, p, table, img or code."""

    kind: str
    text: str
    alt: str = ""


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #1f2328; line-height: 1.5; }
h1 { border-bottom: 3px solid #2f6fde; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; vertical-align: top; text-align: left; }
td { overflow-wrap: anywhere; }  /* an untrained model's answer can be one endless word */
table.wide { width: 100%; }
th { background: #eef3fc; }
tr:nth-child(even) td { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;
                 overflow-wrap: normal; }
img { max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; }
code, pre { background: #f0f2f4; border-radius: 4px; font-size: 13px; }
code { padding: 1px 4px; }
pre { padding: 10px 12px; overflow-x: auto; }
em { color: #57606a; }
"""


def _inline(text: str) -> str:
    """HTML of one line of Markdown: escaped, with `code`, **bold** and *emphasis*."""
    out = html.escape(text.replace("\\|", "|"), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", out)


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row; ``\\|`` is a literal bar, not a separator."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def table_html(markdown: str) -> str:
    """An HTML ``<table>`` from a Markdown pipe table (header, alignment row, body rows)."""
    lines = [line for line in markdown.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError("a Markdown table needs a header row and an alignment row")
    header, aligns = _cells(lines[0]), _cells(lines[1])
    numeric = [align.endswith(":") and not align.startswith(":") for align in aligns]

    def row(cells: list[str], tag: str) -> str:
        items = []
        for i, cell in enumerate(cells):
            css = ' class="num"' if i < len(numeric) and numeric[i] else ""
            items.append(f"<{tag}{css}>{_inline(cell)}</{tag}>")
        return "<tr>" + "".join(items) + "</tr>"

    body = "\n".join(row(_cells(line), "td") for line in lines[2:])
    wide = ' class="wide"' if len(header) > 2 else ""
    return f"<table{wide}>\n<thead>{row(header, 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def render_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if block.kind in ("h1", "h2"):
            parts.append("#" * int(block.kind[1]) + " " + block.text)
        elif block.kind == "img":
            parts.append(f"![{block.alt}]({block.text})")
        elif block.kind == "code":
            parts.append(f"```bash\n{block.text}\n```")
        else:
            parts.append(block.text)
    return "\n\n".join(parts) + "\n"


def render_html(blocks: list[Block], title: str) -> str:
    parts = []
    for block in blocks:
        if block.kind in ("h1", "h2"):
            parts.append(f"<{block.kind}>{_inline(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif block.kind == "table":
            parts.append(table_html(block.text))
        elif block.kind == "img" and block.text.lower().endswith(".mp4"):
            src = html.escape(block.text)
            parts.append(f'<video src="{src}" controls loop muted autoplay width="480"></video>')
        elif block.kind == "img":
            alt, src = html.escape(block.alt), html.escape(block.text)
            parts.append(f'<p><img src="{src}" alt="{alt}"></p>')
        elif block.kind == "code":
            parts.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
        else:
            raise ValueError(f"unknown block kind {block.kind!r}")
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def seconds(value: float) -> str:
    """``"0.4 s"`` under ten seconds, ``"126 s"`` above: a quick run's steps take under one."""
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def plural(number: float, noun: str) -> str:
    """``"1 episode"``, ``"20 episodes"``."""
    return f"{number:.0f} {noun}{'' if number == 1 else 's'}"


def headline_items(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers as ``(world, sentence)`` pairs."""
    arm, text, nan = summary["arm"], summary["text"], float("nan")
    rm, sft, ppo = text["rm"], text["sft"], text["ppo"]
    items = [
        (
            "arm",
            f"success rate {arm.get('success_rate', nan):.2f} (final distance < "
            f"{arm['success_threshold']:.2f} m) and mean final distance "
            f"{arm.get('mean_final_distance', nan):.3f} m over "
            f"{plural(arm['episodes'], 'deterministic episode')}; "
            f"{arm['timesteps']:,} timesteps in {seconds(arm['train_seconds'])} of training",
        ),
        (
            "text",
            f"reward model accuracy {rm['accuracy']:.3f} on held-out pairs; mean RM score "
            f"{sft['score_mean']:+.3f} before PPO (SFT) -> {ppo['score_mean']:+.3f} after; "
            f"KL(PPO || SFT) {ppo['kl_to_reference']:.3f} nats per response"
            + _judge_headline(text),
        ),
    ]
    if summary.get("train_seconds"):
        items.append(("wall-clock", _train_seconds_line(summary)))
    return items


def _judge_headline(text: dict[str, Any]) -> str:
    if "judge" not in text:
        return ""
    sampled, greedy = text["judge"]["sampled"], text["judge"]["greedy"]
    return (
        f"; PPO's win rate over SFT by an independent judge on {int(sampled['judge/count'])} "
        f"held-out prompts (a tie counts half): sampled {win_counts_text(sampled)}, greedy "
        f"{win_counts_text(greedy)}"
    )


def headline(summary: dict[str, Any]) -> str:
    """The numbers printed at the end of the demo (and at the top of its report)."""
    return "\n".join(f"{label}: {sentence}" for label, sentence in headline_items(summary))


def _train_seconds_line(summary: dict[str, Any]) -> str:
    """The runs' training time (over every invocation), then this invocation's total."""
    train = summary["train_seconds"]
    line = (
        f"training: arm {seconds(train['arm'])}, text {seconds(train['text'])} (SFT "
        f"{seconds(train['sft'])}, reward model {seconds(train['rm'])}, PPO "
        f"{seconds(train['ppo'])}), "
        "over every invocation of the runs"
    )
    total = summary.get("seconds", {}).get("total")
    return line if total is None else f"{line}; this invocation {seconds(total)} in all"


def _value_table(rows: list[tuple[str, str]]) -> str:
    lines = ["| | value |", "|---|---:|"]
    for label, value in rows:
        label = label.replace("|", "\\|")  # a bar inside a cell is escaped in Markdown
        lines.append(f"| {label} | {value} |")
    return "\n".join(lines)


def _arm_rows(arm: dict[str, Any]) -> list[tuple[str, str]]:
    nan = float("nan")
    episodes = plural(arm["episodes"], "deterministic episode")
    return [
        (
            f"success rate (final distance < {arm['success_threshold']:.2f} m), {episodes}",
            f"{arm.get('success_rate', nan):.2f}",
        ),
        (f"mean final distance (m), {episodes}", f"{arm.get('mean_final_distance', nan):.3f}"),
        (f"mean episode return, {episodes}", f"{arm['mean_return']:.2f}"),
        ("timesteps trained", f"{arm['timesteps']:,}"),
        ("training wall-clock", seconds(arm["train_seconds"])),
    ]


def _text_rows(text: dict[str, Any]) -> list[tuple[str, str]]:
    rm, sft, ppo = text["rm"], text["sft"], text["ppo"]
    steps = text.get("seconds", {})
    return [
        ("reward-model accuracy (held-out pairs)", f"{rm['accuracy']:.3f}"),
        *probe_rows(text),
        ("RM score of chosen / rejected answers", f"{rm['chosen_score']:+.3f} / "
         f"{rm['rejected_score']:+.3f}"),
        ("mean RM score of sampled responses: before PPO (SFT) / after PPO",
         f"{sft['score_mean']:+.3f} / {ppo['score_mean']:+.3f}"),
        ("mean RM score of greedy responses: SFT / PPO",
         f"{sft['greedy_score_mean']:+.3f} / {ppo['greedy_score_mean']:+.3f}"),
        ("KL(PPO || SFT) per response (nats; exact over the vocabulary at each token)",
         f"{ppo['kl_to_reference']:.3f}"),
        *judge_rows(text),
        *degeneration_rows(text),
        ("wall-clock of this invocation, loading and evaluation included: SFT / RM / PPO",
         " / ".join(seconds(steps.get(step, float("nan"))) for step in ("sft", "rm", "ppo"))),
    ]  # fmt: skip


def _tensorboard_blocks(out: Path) -> list[Block]:
    folders = sorted(str(path.relative_to(out)) for path in out.rglob("tb") if path.is_dir())
    return [
        Block("h2", "TensorBoard"),
        Block(
            "p",
            "Every training step logs to TensorBoard with one key scheme for both worlds "
            "(`loss/policy`, `loss/value`, `policy/approx_kl`, `rollout/ep_return`, "
            "`objective/score`, ...); the logs are in "
            + ", ".join(f"`{folder}`" for folder in folders)
            + f" under `{out}`. Open them all with:",
        ),
        Block("code", f".venv/bin/tensorboard --logdir {out}"),
    ]


def smoke_run_note(config) -> list[Block]:
    """A warning under the title when the text model is a tiny one built from scratch (what
    ``--quick`` runs): its numbers show that the path works, not what RLHF achieves."""
    if not config.text.sft.model.builds_tiny:
        return []
    return [
        Block(
            "p",
            "**A smoke run** (what `rlhf-gym demo --quick` runs): the text model is a tiny GPT-2 "
            "built from scratch and every budget is seconds, so the numbers below show that "
            "each step runs, not what RLHF achieves. Run `rlhf-gym demo` for the real one.",
        )
    ]


def write_demo_report(summary: dict[str, Any], config, out_dir: str | Path) -> dict[str, str]:
    """Plots, ``report.md`` and ``report.html`` in ``out_dir``; returns the files written.

    Args:
        summary: ``arm`` (evaluation and training numbers), ``text`` (the text pipeline's
            summary, with its ``tables`` and ``plots``) and ``seconds``.
        config: the :class:`rlhf_gym.demo.DemoConfig` that produced them.
        out_dir: the demo's folder; the video named by ``config.video_name`` is already there.
    """
    out = Path(out_dir)
    history = [{**row, "timesteps": row["global_step"]} for row in read_metrics(config.arm.run_dir)]
    arm_png = plot_curves(
        history, ARM_CURVES, out / "arm_curves.png", x_key="timesteps", title="PPO (arm)"
    )
    text_png = out / "text_curves.png"
    shutil.copyfile(summary["text"]["plots"][0], text_png)
    overoptimisation = []
    for plot in summary["text"]["plots"][1:]:  # the over-optimisation curve, where judged
        shutil.copyfile(plot, out / f"text_{Path(plot).name}")
        overoptimisation.append(
            Block(
                "img",
                f"text_{Path(plot).name}",
                "training reward vs the independent judge per iteration",
            )
        )
    tables = summary["text"]["tables"]
    text_report = os.path.relpath(Path(config.text.run_dir) / "report" / "report.md", out)
    blocks = [
        Block("h1", "rlhf-gym demo: one PPO core, two worlds"),
        *smoke_run_note(config),
        *[Block("p", f"**{label}**: {sentence}") for label, sentence in headline_items(summary)],
        Block("h2", "The arm: PPO learns to reach"),
        Block(
            "p",
            f"`{config.arm.env.id}`, {config.arm.env.num_envs} environments; evaluated "
            "deterministically on seeded episodes it never trained on.",
        ),
        Block("table", _value_table(_arm_rows(summary["arm"]))),
        Block("img", arm_png.name, "arm: success rate, return and final distance"),
        Block("p", f"The trained arm, {plural(config.video_episodes, 'deterministic episode')}:"),
        Block("img", config.video_name, "video of the trained arm reaching"),
        Block("h2", "Text: SFT -> reward model -> PPO"),
        Block(
            "p",
            "DeepSpeed-Chat's three steps on held-out prompts (the data's eval split, never "
            f"trained on). The full text report: `{text_report}`.",
        ),
        Block("table", _value_table(_text_rows(summary["text"]))),
        Block("img", text_png.name, "text PPO: actor loss, critic loss, reward score, KL"),
        *overoptimisation,
        Block(
            "h2",
            "The same held-out prompts, three models (greedy; reward-model and judge "
            "scores in brackets)",
        ),
        Block("table", tables["answers"]),
        Block("h2", "Reward-model scores of good and bad answers"),
        Block("table", tables["rm_scores"]),
        *_tensorboard_blocks(out),
    ]
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(render_markdown(blocks))
    html_path.write_text(render_html(blocks, "rlhf-gym demo report"))
    return {
        "report_html": str(html_path),
        "report_md": str(md_path),
        "arm_curves": str(arm_png),
        "text_curves": str(text_png),
        "video": str(out / config.video_name),
    }
