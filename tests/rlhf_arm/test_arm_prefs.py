"""Reward learning from trajectory preferences on the arm: labels, oracle, model, loop, CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import envs
from agents.checkpoint import read_checkpoint
from agents.config import ConfigError, load_config
from agents.preference import pairwise_loss
from rlhf_arm.prefs import (
    PreferenceConfig,
    Preferences,
    PrefsConfig,
    SegmentPool,
    TrajectoryRewardModel,
    evaluate_reward_model,
    export_numpy,
    fit_reward_model,
    label_schedule,
    oracle_preferences,
    preference_variance,
    read_labels,
    soft_pairwise_loss,
    train_prefs,
    write_labels,
)
from rlhf_arm.prefs.state import load_numpy_reward
from rlhf_gym.cli import main

REPO = Path(__file__).parents[2]
CONFIG = str(REPO / "configs" / "arm" / "prefs.yaml")
TINY = [
    "env.num_envs=2",
    "run.num_steps=100",
    "run.total_timesteps=800",
    "prefs.rounds=2",
    "prefs.label_budget=20",
    "prefs.segment_length=20",
    "prefs.eval_episodes=2",
    "reward_model.epochs=2",
]
IDS = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small MLPs run fastest on one thread (and do not fight a busy machine's cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- label files -----------------------------------------------------------------------------


def test_label_file_round_trip_with_equal_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    lines = [
        {"left": "a", "right": "b", "choice": "left"},
        {"left": "c", "right": "a", "choice": "right", "labeller": "ann"},
        {"left": "b", "right": "c", "choice": "equal"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n\n")
    path.write_text(path.read_text() + json.dumps(lines[2]) + "\n")
    labels = read_labels(path, IDS)
    assert labels.left.tolist() == [0, 2, 1] and labels.right.tolist() == [1, 0, 2]
    assert labels.target.tolist() == [1.0, 0.0, 0.5]
    again = read_labels(write_labels(tmp_path / "out.jsonl", labels, IDS), IDS)
    assert np.array_equal(again.target, labels.target) and np.array_equal(again.left, labels.left)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"left": "a", "right": "b", "choice": "left"', "line 2: not valid JSON"),
        ('["a", "b", "left"]', "line 2: expected a JSON object"),
        ('{"left": "a", "right": "b"}', "line 2: missing key 'choice'"),
        ('{"left": "a", "right": "zz", "choice": "left"}', "line 2: unknown segment id 'zz'"),
        ('{"left": "a", "right": "a", "choice": "left"}', "line 2: compares segment 'a' with"),
        ('{"left": "a", "right": "b", "choice": "both"}', "line 2: choice must be one of"),
    ],
)
def test_bad_labels_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"left": "b", "right": "c", "choice": "right"}\n' + line + "\n")
    with pytest.raises(ValueError, match=message):
        read_labels(path, IDS)


def test_empty_or_missing_label_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no labels"):
        read_labels(tmp_path / "empty.jsonl", IDS)
    with pytest.raises(FileNotFoundError):
        read_labels(tmp_path / "missing.jsonl", IDS)


# -- the oracle ------------------------------------------------------------------------------


def test_oracle_prefers_the_higher_true_return() -> None:
    returns = np.array([-3.0, -1.0, -2.0, -1.0, -1.2])
    labels = oracle_preferences(
        returns, np.array([0, 1, 2, 3]), np.array([1, 2, 0, 1]), np.random.default_rng(0)
    )
    assert labels.target.tolist() == [0.0, 1.0, 1.0, 0.5]  # an exact tie is "equal"
    labels = oracle_preferences(
        returns, np.array([4, 2]), np.array([1, 0]), np.random.default_rng(0), equal_margin=0.5
    )
    assert labels.target.tolist() == [0.5, 1.0]


def test_label_noise_flips_at_its_rate() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(size=2000)
    left, right = rng.integers(0, 2000, 20000), rng.integers(0, 2000, 20000)
    keep = left != right
    left, right = left[keep], right[keep]
    clean = oracle_preferences(returns, left, right, np.random.default_rng(2))
    noisy = oracle_preferences(returns, left, right, np.random.default_rng(2), label_noise=0.2)
    assert abs(np.mean(clean.target != noisy.target) - 0.2) < 0.015
    again = oracle_preferences(returns, left, right, np.random.default_rng(2), label_noise=0.2)
    assert np.array_equal(noisy.target, again.target)  # seeded


def test_soft_loss_is_pairwise_loss_for_hard_labels_and_symmetric_for_equal() -> None:
    a, b = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, 3.0])
    assert torch.allclose(soft_pairwise_loss(a, b, torch.ones(3)), pairwise_loss(a, b))
    assert torch.allclose(soft_pairwise_loss(a, b, torch.zeros(3)), pairwise_loss(b, a))
    equal = soft_pairwise_loss(a, b, torch.full((3,), 0.5))
    assert torch.allclose(equal, 0.5 * pairwise_loss(a, b) + 0.5 * pairwise_loss(b, a))
    mixed = soft_pairwise_loss(a, b, torch.tensor([1.0, 0.0, 0.5]))
    log_sig = torch.nn.functional.logsigmoid
    by_hand = -(log_sig(a[0] - b[0]) + log_sig(b[1] - a[1]) + 0.5 * log_sig(a[2] - b[2]))
    by_hand = (by_hand - 0.5 * log_sig(b[2] - a[2])) / 3
    assert torch.allclose(mixed, by_hand)
    # an "equal" label's gradient pulls the two returns together
    a = torch.tensor([2.0], requires_grad=True)
    soft_pairwise_loss(a, torch.tensor([0.0]), torch.tensor([0.5])).backward()
    assert a.grad.item() > 0


def test_label_schedule_spends_the_budget() -> None:
    for schedule in ("constant", "hyperbolic"):
        config = PreferenceConfig(label_budget=1000, rounds=10, label_schedule=schedule)
        counts = label_schedule(config)
        assert sum(counts) == 1000 and len(counts) == 10 and counts[0] == 250
    assert label_schedule(PreferenceConfig(label_budget=7, rounds=1)) == [7]


# -- the reward model ------------------------------------------------------------------------


def _synthetic_segments(num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Arm-shaped segments whose true return is minus the summed distance to a target."""
    rng = np.random.default_rng(seed)
    observations = rng.normal(size=(num, 10, 24)).astype(np.float32)
    observations[..., 21:24] *= rng.uniform(0.05, 0.5, size=(num, 1, 1)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(num, 10, 5)).astype(np.float32)
    true_returns = -np.linalg.norm(observations[..., 21:24], axis=-1).sum(-1)
    return torch.as_tensor(observations), torch.as_tensor(actions), true_returns


def test_reward_model_learns_a_synthetic_preference() -> None:
    torch.manual_seed(0)
    observations, actions, true_returns = _synthetic_segments(400, seed=0)
    rng = np.random.default_rng(0)
    left, right = rng.integers(0, 400, 1200), rng.integers(0, 400, 1200)
    keep = left != right
    labels = oracle_preferences(true_returns, left[keep], right[keep], rng)
    train, heldout = labels.subset(np.arange(800)), labels.subset(np.arange(800, keep.sum()))
    model = TrajectoryRewardModel(24, 5, hidden=(32, 32), ensemble_size=2)
    model.set_input_normalization(observations.numpy(), actions.numpy())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    fit_reward_model(model, optimizer, observations, actions, train, 10, 64, generator)
    metrics = evaluate_reward_model(model, observations, actions, heldout)
    assert metrics["accuracy"] > 0.9
    variance = preference_variance(model, observations, actions, heldout.left, heldout.right)
    assert variance.shape == (len(heldout),) and (variance >= 0).all()


def test_margin_selection_prefers_pairs_the_model_rates_alike() -> None:
    from rlhf_arm.prefs.pairs import selection_score

    torch.manual_seed(0)
    observations, actions, _ = _synthetic_segments(4, seed=2)
    observations[1], actions[1] = observations[0], actions[0]  # rows 0 and 1 are the same
    model = TrajectoryRewardModel(24, 5, hidden=(8,), ensemble_size=2)
    left, right = np.array([0, 0, 2]), np.array([1, 3, 3])
    name, score = selection_score("margin", model, observations, actions, left, right)
    assert name == "closeness" and score[0] == pytest.approx(0.5)
    assert (score <= 0.5).all() and (score[1:] < 0.5).all()
    name, score = selection_score("uncertainty", model, observations, actions, left, right)
    expected = preference_variance(model, observations, actions, left, right)
    assert name == "variance" and np.array_equal(score, expected)


def test_numpy_export_matches_the_torch_ensemble() -> None:
    torch.manual_seed(3)
    model = TrajectoryRewardModel(24, 5, hidden=(16, 8, 4), ensemble_size=3)
    observations, actions, _ = _synthetic_segments(6, seed=1)
    model.set_input_normalization(observations.numpy() * 2 + 1, actions.numpy())
    with torch.no_grad():
        expected = ((model(observations, actions).mean(0) - 0.3) / 1.7).double().numpy()
    reward_fn = pickle.loads(pickle.dumps(export_numpy(model, shift=0.3, scale=1.7)))
    got = reward_fn.batch(observations.double().numpy(), actions.double().numpy())
    assert got.shape == (6, 10)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    single = reward_fn(observations[0, 0].double().numpy(), actions[0, 0].double().numpy(), {})
    assert isinstance(single, float) and single == pytest.approx(expected[0, 0], abs=1e-5)


def test_observation_indices_pick_what_the_model_reads() -> None:
    torch.manual_seed(4)
    model = TrajectoryRewardModel(24, 5, hidden=(16, 8), observation_indices=[21, 22, 23])
    assert model.input_mean.shape == (8,)  # three observation entries and the action
    observations, actions, _ = _synthetic_segments(6, seed=3)
    model.set_input_normalization(observations.numpy() * 2 + 1, actions.numpy())
    assert torch.allclose(model.input_mean[:3], observations[..., 21:24].mean((0, 1)) * 2 + 1)
    moved = observations.clone()
    moved[..., :21] = torch.randn_like(moved[..., :21]) * 5  # what the model does not read
    with torch.no_grad():
        expected = model(observations, actions).mean(0).double().numpy()
        assert torch.equal(model(moved, actions), model(observations, actions))
        shifted = moved.clone()
        shifted[..., 22] += 0.5  # what it reads
        assert not torch.equal(model(shifted, actions), model(observations, actions))
    # the exported reward takes the whole observation and ignores the same entries
    reward_fn = export_numpy(model)
    for obs in (observations, moved):
        got = reward_fn.batch(obs.double().numpy(), actions.double().numpy())
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    state = TrajectoryRewardModel(24, 5, hidden=(16, 8), observation_indices=[21, 22, 23])
    state.load_state_dict(model.state_dict())
    assert state.observation_indices.tolist() == [21, 22, 23]


@pytest.mark.parametrize("indices", [[], [24], [-1], [3, 3]])
def test_bad_observation_indices_are_rejected(indices: list[int]) -> None:
    with pytest.raises(ValueError, match="observation_indices"):
        TrajectoryRewardModel(24, 5, observation_indices=indices)


def test_the_loop_names_bad_observation_indices(tmp_path: Path) -> None:
    overrides = [*TINY, f"run_dir={tmp_path}", "reward_model.observation_indices=[0,30]"]
    with pytest.raises(ConfigError, match="reward_model: observation_indices .* 24-dim"):
        train_prefs(load_config(PrefsConfig, CONFIG, overrides))


def test_env_runs_on_the_learned_reward() -> None:
    torch.manual_seed(0)
    reward_fn = export_numpy(TrajectoryRewardModel(24, 5, hidden=(8,), ensemble_size=2))
    env = gym.make(envs.ARM_REACH_ID, reward_fn=reward_fn)
    observation, _ = env.reset(seed=0)
    for _ in range(3):
        action = env.action_space.sample()
        observation, reward, _, _, info = env.step(action)
        assert reward == info["reward_custom"]
        assert reward == pytest.approx(reward_fn(observation, action.astype(np.float64), info))
        assert "reward_dist" in info and "is_success" in info
    env.close()


def test_segments_cut_episodes_and_exploration_widens_them() -> None:
    from agents.gaussian import GaussianActorCritic
    from rlhf_arm.prefs import collect_segments

    torch.manual_seed(0)
    policy = GaussianActorCritic(24, 5, hidden=(8,), init_log_std=-0.5)
    env = gym.make(envs.ARM_REACH_ID, success_bonus=1.0)
    plain, stats = collect_segments(env, policy, 8, 25, seed=0)
    assert plain.observations.shape == (8, 25, 24) and plain.actions.shape == (8, 25, 5)
    assert stats.steps == 200 and len(stats.episode_returns) == 2
    np.testing.assert_allclose(plain.true_returns()[:4].sum(), stats.episode_returns[0], rtol=1e-5)
    kwargs = {"exploration_noise": 0.8, "explored_fraction": 1.0}
    wide, _ = collect_segments(env, policy, 8, 25, seed=0, **kwargs)
    again, _ = collect_segments(env, policy, 8, 25, seed=0, **kwargs)
    assert np.abs(wide.actions.sum(1)).mean() > 2 * np.abs(plain.actions.sum(1)).mean()
    assert wide.observations[..., 15:18].std() > plain.observations[..., 15:18].std()
    assert wide.ids == again.ids and wide.ids[0] == "s0000"
    env.close()


def test_repeated_starts_share_target_and_pose_and_are_recorded(tmp_path: Path) -> None:
    from agents.gaussian import GaussianActorCritic
    from rlhf_arm.prefs import collect_segments

    torch.manual_seed(0)
    policy = GaussianActorCritic(24, 5, hidden=(8,), init_log_std=-0.5)
    env = gym.make(envs.ARM_REACH_ID)
    pool, stats = collect_segments(
        env, policy, 24, 25, seed=3, episodes_per_start=3, exploration_noise=0.5
    )
    assert len(stats.episode_returns) == 6  # two starts, three episodes each
    assert pool.starts.tolist() == [3] * 12 + [pool.starts[12]] * 12 and pool.starts[12] != 3
    assert pool.windows.tolist() == [0, 1, 2, 3] * 6
    target = pool.observations[:, 0, 18:21]
    for group in (slice(0, 12), slice(12, 24)):
        assert np.all(target[group] == target[group][0])  # one target per start
    assert not np.allclose(target[0], target[12])
    # the repeats of a start differ only by the policy's own sampling (and noise)
    assert not np.allclose(pool.actions[0], pool.actions[4])
    plain, _ = collect_segments(env, policy, 8, 25, seed=3)
    assert plain.starts.tolist() == [-1] * 8 and plain.windows.tolist() == [0, 1, 2, 3] * 2
    pool.save(tmp_path / "segments.npz")
    loaded = SegmentPool.load(tmp_path / "segments.npz")
    assert np.array_equal(loaded.starts, pool.starts)
    assert np.array_equal(loaded.windows, pool.windows)
    with pytest.raises(ValueError, match="episodes_per_start"):
        collect_segments(env, policy, 8, 25, seed=3, episodes_per_start=0)
    env.close()


def test_a_segment_file_without_starts_loads_with_none(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "old.npz",
        ids=np.array(["a", "b"]),
        observations=np.zeros((2, 3, 24), np.float32),
        actions=np.zeros((2, 3, 5), np.float32),
    )
    pool = SegmentPool.load(tmp_path / "old.npz")
    assert pool.starts.tolist() == [-1, -1] and pool.windows.tolist() == [-1, -1]
    np.savez(
        tmp_path / "ragged.npz",
        ids=np.array(["a", "b"]),
        observations=np.zeros((2, 3, 24), np.float32),
        actions=np.zeros((2, 3, 5), np.float32),
        starts=np.zeros(3, np.int64),
    )
    with pytest.raises(ValueError, match="starts has shape"):
        SegmentPool.load(tmp_path / "ragged.npz")


def test_same_start_pairs_group_by_start_and_window() -> None:
    from rlhf_arm.prefs.pairs import same_start_pairs

    starts = np.array([7, 7, 7, 7, 9, 9, -1, -1])
    windows = np.array([0, 1, 0, 1, 0, 0, 0, 0])
    pairs = same_start_pairs(np.arange(8), starts, windows)
    assert pairs.tolist() == [[0, 2], [1, 3], [4, 5]]  # -1: no start, never paired
    assert same_start_pairs(np.array([0, 1]), starts, windows).shape == (0, 2)


def test_same_start_pairing_labels_only_attempts_at_the_same_task(tmp_path: Path) -> None:
    overrides = [
        *TINY,
        f"run_dir={tmp_path / 'run'}",
        "prefs.pairing=same_start",
        "prefs.episodes_per_start=3",
        "prefs.segment_length=25",
        "reward_model.observation_indices=[21,22,23]",
    ]
    result = train_prefs(load_config(PrefsConfig, CONFIG, overrides))
    assert result.labels_used == 20  # the budget is spent whatever the grouping
    saved = load_file(tmp_path / "run" / "rounds" / "round_01" / "reward_model.safetensors")
    assert saved["observation_indices"].tolist() == [21, 22, 23]
    pool = SegmentPool.load(tmp_path / "run" / "segments.npz")
    labels = read_labels(tmp_path / "run" / "labels.jsonl", pool.ids)
    assert np.all(pool.starts[labels.left] == pool.starts[labels.right])
    assert np.all(pool.starts[labels.left] >= 0)
    assert np.all(pool.windows[labels.left] == pool.windows[labels.right])
    assert np.all(labels.left != labels.right)


def test_same_start_pairing_needs_repeated_starts() -> None:
    with pytest.raises(ValueError, match="episodes_per_start >= 2"):
        PreferenceConfig(pairing="same_start")


# -- the loop and the command line -----------------------------------------------------------


def _scalar_tags(log_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"])


@pytest.mark.parametrize("selection", ["uncertainty", "margin"])
def test_tiny_loop_logs_and_saves_its_artefacts(tmp_path: Path, selection: str) -> None:
    overrides = [*TINY, f"run_dir={tmp_path / 'run'}", f"prefs.selection={selection}"]
    config = load_config(PrefsConfig, CONFIG, overrides)
    result = train_prefs(config)
    run_dir = tmp_path / "run"
    assert result.labels_used == 20 and result.global_step == 800 and len(result.rounds) == 2
    tags = _scalar_tags(run_dir / "tb")
    score = "variance" if selection == "uncertainty" else "closeness"
    for key in (
        f"prefs/selected_{score}",
        "prefs/rm_accuracy_heldout",
        "prefs/labels_used",
        "prefs/true_return",
        "prefs/true_success_rate",
        "rollout/final_is_success",
        "rollout/ep_return",
        "loss/policy",
    ):
        assert key in tags, key
    for round_index in (0, 1):
        folder = run_dir / "rounds" / f"round_{round_index:02d}"
        for name in ("reward_model.safetensors", "reward_fn.npz", "policy.safetensors"):
            assert (folder / name).is_file()
    reward_fn = load_numpy_reward(run_dir / "rounds" / "round_01" / "reward_fn.npz")
    assert np.isfinite(reward_fn(np.zeros(24), np.zeros(5)))
    pool = SegmentPool.load(run_dir / "segments.npz")
    labels = read_labels(run_dir / "labels.jsonl", pool.ids)
    assert len(labels) == 20 and pool.observations.shape[1:] == (20, 24)
    # the oracle's labels in the file agree with the saved true rewards
    strict = labels.target != 0.5
    returns = pool.true_returns()
    higher_left = returns[labels.left[strict]] > returns[labels.right[strict]]
    assert np.array_equal(higher_left, labels.target[strict] == 1.0)
    # the run folder is one that `rlhf-gym arm eval` reads
    assert main(["arm", "eval", "--checkpoint", str(run_dir), "--episodes", "2"]) == 0


def test_human_labels_drive_the_loop(tmp_path: Path) -> None:
    pool = SegmentPool(
        ids=[f"clip{i}" for i in range(4)],
        observations=np.random.default_rng(0).normal(size=(4, 5, 24)).astype(np.float32),
        actions=np.zeros((4, 5, 5), np.float32),
        true_rewards=np.zeros((4, 5), np.float32),
        successes=np.zeros((4, 5), bool),
    )
    pool.save(tmp_path / "segments.npz")
    labels = Preferences(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0]), np.array([1, 0, 0.5, 1]))
    write_labels(tmp_path / "labels.jsonl", labels, pool.ids)
    overrides = [
        *TINY,
        f"run_dir={tmp_path / 'run'}",
        f"prefs.human_labels={tmp_path / 'labels.jsonl'}",
        f"prefs.segments_file={tmp_path / 'segments.npz'}",
        "prefs.heldout_fraction=0.25",
    ]
    result = train_prefs(load_config(PrefsConfig, CONFIG, overrides))
    assert result.labels_used == 4
    assert result.rounds[0]["prefs/human_labels"] == 4.0
    assert "prefs/rm_accuracy_train" in result.rounds[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"left": "clip0", "right": "nope", "choice": "left"}\n')
    overrides[-3] = f"prefs.human_labels={bad}"
    with pytest.raises(ValueError, match="line 1: unknown segment id 'nope'"):
        train_prefs(load_config(PrefsConfig, CONFIG, overrides), resume=False)


def test_a_stopped_run_resumes_to_the_same_end(tmp_path: Path) -> None:
    whole = train_prefs(load_config(PrefsConfig, CONFIG, [*TINY, f"run_dir={tmp_path / 'a'}"]))
    config = load_config(PrefsConfig, CONFIG, [*TINY, f"run_dir={tmp_path / 'b'}"])
    first = train_prefs(config, stop_after_rounds=1)
    assert len(first.rounds) == 1 and first.global_step == 400
    resumed = train_prefs(config)
    assert resumed.global_step == whole.global_step == 800
    assert resumed.labels_used == whole.labels_used == 20
    assert [r["prefs/true_return"] for r in resumed.rounds] == [
        r["prefs/true_return"] for r in whole.rounds
    ]
    expected = read_checkpoint(tmp_path / "a")["parts"]["parts"]["policy"]
    actual = read_checkpoint(tmp_path / "b")["parts"]["parts"]["policy"]
    for name, value in expected.items():
        assert torch.equal(value, actual[name]), name
    assert (tmp_path / "a" / "labels.jsonl").read_text() == (
        tmp_path / "b" / "labels.jsonl"
    ).read_text()
    # a finished run resumed does nothing more; another config in the same folder is refused
    assert train_prefs(config).global_step == 800
    changed = load_config(PrefsConfig, CONFIG, [*TINY, f"run_dir={tmp_path / 'b'}", "run.seed=2"])
    with pytest.raises(ValueError, match=r"another config \(run.seed changed\)"):
        train_prefs(changed)
    assert load_config(PrefsConfig, tmp_path / "b" / "prefs_config.yaml") == config
    assert train_prefs(changed, resume=False).global_step == 800


def test_cli_prefs_runs_with_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    argv = ["arm", "prefs", "--config", CONFIG, f"run_dir={run_dir}", *TINY]
    assert main(argv) == 0
    assert "reward learned from 20 labels" in capsys.readouterr().out
    assert (run_dir / "prefs_config.yaml").is_file() and (run_dir / "checkpoint.json").is_file()
    assert main(["arm", "prefs", "--config", CONFIG, "prefs.selection=best"]) == 2
    assert "prefs.selection" in capsys.readouterr().err


def test_config_file_loads() -> None:
    config = load_config(PrefsConfig, CONFIG)
    assert config.prefs.label_budget == 1000 and config.run.total_timesteps == 2_000_000
    assert config.continuous().env == config.env


@pytest.mark.slow
def test_learning_from_oracle_labels_moves_the_arm_to_its_targets(tmp_path: Path) -> None:
    """About 2 minutes on one core: ``pytest -m slow tests/agents/test_arm_prefs.py``.

    400k PPO steps on a reward learned from 300 labels: not yet the 90% success of the full
    config (benchmarks/arm_prefs.py measures that), but the arm must clearly learn to reach.
    One run of this config ended at 0.105 m and 0.27 success (from 0.359 m and 0.00).
    """
    overrides = [
        f"run_dir={tmp_path}",
        "run.total_timesteps=400000",
        "prefs.label_budget=300",
        "prefs.rounds=8",
    ]
    result = train_prefs(load_config(PrefsConfig, CONFIG, overrides))
    first, last = result.rounds[0], result.rounds[-1]
    assert result.labels_used == 300
    assert last["prefs/rm_accuracy_heldout"] > 0.75
    assert last["prefs/true_final_distance"] < min(0.15, 0.5 * first["prefs/true_final_distance"])
    assert last["prefs/true_success_rate"] >= 0.1
    assert last["prefs/true_return"] > first["prefs/true_return"]
