"""The reference of the env benchmarks: recorded episodes replayed with bare MuJoCo calls."""

from __future__ import annotations

import time

import mujoco


def time_raw(model: mujoco.MjModel, data: mujoco.MjData, episodes,
             nstep: int) -> tuple[float, int]:
    """Replay recorded episodes ``[((qpos, qvel), controls), ...]`` with bare physics calls,
    ``nstep`` physics steps per control; return (seconds, control steps)."""
    elapsed, steps = 0.0, 0
    step = mujoco.mj_step
    for (qpos, qvel), controls in episodes:
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:] = qpos, qvel
        mujoco.mj_forward(model, data)
        t0 = time.perf_counter()
        for c in controls:
            data.ctrl[:] = c
            step(model, data, nstep=nstep)
        elapsed += time.perf_counter() - t0
        steps += len(controls)
    return elapsed, steps
