"""RL^2 in RoboSumo: a trial is several bouts against one version of a self-play lineage.

``SumoTrialSampler`` streams fixed-length rollouts from ``SumoVectorEnv`` arenas where the
learner (RL^2) is player_0 and player_1 is a frozen snapshot of an opponent lineage. Each arena
runs trials of ``episodes`` bouts: at a trial's start the arena draws an opponent version
uniformly from the lineage and the learner's state is zeroed; bout ends inside the trial only
set the done input. Bouts end at different times in different arenas, so trials do too; the
rollout marks trial starts (``starts``) and trial ends (terminal, as for locomotion), and the
PPO sequences restart the state where a trial starts inside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.lineage import Lineage
from agents.opponents import LineageOpponents
from agents.rl2.core import RL2Policy
from agents.sampler import Rollout


class SumoTrialSampler:
    """Collects ``steps`` steps per arena of RL^2 trials against lineage versions.

    Args:
        envs: the arenas (``SumoVectorEnv``); the learner plays player_0.
        policy: the learner.
        lineage: the opponents' lineage (snapshots of kind ``ppo-mlp``/``ppo-lstm``).
        episodes: bouts per trial.
        steps: steps per arena per rollout (a multiple of the BPTT length).
        seed: seed of the arenas, the opponent draws and the action noise.
    """

    def __init__(self, envs: Any, policy: RL2Policy, lineage: Lineage, episodes: int,
                 steps: int, seed: int) -> None:
        if not lineage.versions():
            raise ValueError(f"opponent lineage {lineage.directory} holds no snapshots")
        self.envs, self.policy, self.lineage = envs, policy, lineage
        self.episodes, self.steps, self.n = int(episodes), int(steps), envs.num_envs
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.opponents = LineageOpponents(lineage, self.n, seed + 1)
        self.obs, _ = envs.reset(seed=seed)
        n = self.n
        self.state = policy.initial_state(n)
        self.prev_a, self.prev_r = np.zeros((n, policy.act_dim)), np.zeros(n)
        self.done, self.start = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
        self.bouts = np.zeros(n, dtype=np.int64)
        self.opponents.set_versions(np.arange(n), [self._draw() for _ in range(n)])

    @property
    def versions(self) -> np.ndarray:
        """The opponent version of every arena's running trial."""
        return self.opponents.versions

    def _draw(self) -> int:
        versions = self.lineage.versions()
        return int(versions[int(self.rng.integers(len(versions)))])

    def collect(self) -> tuple[Rollout, dict[str, float]]:
        """``steps`` steps per arena as a ``Rollout`` and the finished bouts' statistics."""
        p, n, t_total = self.policy, self.n, self.steps
        inputs = torch.zeros(t_total, n, p.input_dim)
        actions = torch.zeros(t_total, n, p.act_dim)
        states = torch.zeros(t_total, *self.state.shape)
        raw = np.zeros((t_total, n, p.obs_dim), np.float32)
        f = {k: torch.zeros(t_total, n) for k in ("logp", "values", "rewards", "end", "starts")}
        outcomes: list[int] = []
        for t in range(t_total):
            states[t] = self.state
            x = p.inputs(self.obs[0], self.prev_a, self.prev_r, self.done)
            out = p.act(x, self.state, self.start, generator=self.generator)
            opp = self.opponents.actions(self.obs[1])
            obs, rewards, terminated, truncated, info = self.envs.step((out.action, opp))
            bout_end = terminated | truncated
            raw[t], inputs[t], actions[t] = self.obs[0], x, torch.as_tensor(out.action)
            f["logp"][t], f["values"][t] = torch.as_tensor(out.logp), torch.as_tensor(out.value)
            f["rewards"][t] = torch.as_tensor(rewards[:, 0], dtype=torch.float32)
            f["starts"][t] = torch.as_tensor(self.start, dtype=torch.float32)
            outcomes += [int(info["winner"][i]) for i in np.flatnonzero(bout_end)]
            self.bouts += bout_end
            trial_end = self.bouts >= self.episodes
            f["end"][t] = torch.as_tensor(trial_end, dtype=torch.float32)
            self.state, self.prev_a, self.prev_r = out.state, out.action, rewards[:, 0].copy()
            self.done, self.start = bout_end.copy(), trial_end.copy()
            self.opponents.bouts_ended(bout_end)
            self._new_trials(np.flatnonzero(trial_end))
            self.obs = obs
        self.policy.norm.update(torch.from_numpy(raw))
        rollout = self._rollout(inputs, actions, f, states)
        wins = np.array(outcomes)
        stats = {"bouts": float(len(wins))}
        if len(wins):
            stats.update(win_rate=float((wins == 0).mean()), loss_rate=float((wins == 1).mean()))
        return rollout, stats

    def _new_trials(self, ids: np.ndarray) -> None:
        self.bouts[ids] = 0
        self.opponents.set_versions(ids, [self._draw() for _ in ids])
        self.prev_a[ids], self.prev_r[ids], self.done[ids] = 0.0, 0.0, True

    @torch.no_grad()
    def _rollout(self, inputs: torch.Tensor, actions: torch.Tensor,
                 f: dict[str, torch.Tensor], states: torch.Tensor) -> Rollout:
        """Returns run across bouts; a trial's end is terminal; the last step bootstraps from
        the value of the next step of the running trial."""
        values = f["values"]
        x = self.policy.inputs(self.obs[0], self.prev_a, self.prev_r, self.done)
        starts = torch.as_tensor(self.start, dtype=torch.float32)[None]
        last = self.policy.core(x[None], self.state, starts)[2][0]
        next_values = torch.cat([values[1:], last[None]]) * (1 - f["end"])
        return Rollout(inputs, actions, f["logp"], values, f["rewards"], f["end"],
                       f["end"].clone(), next_values, f["starts"], states)


__all__ = ["SumoTrialSampler"]
