"""The ids' step limits: ``max_episode_steps`` given to ``gymnasium.make`` is the env's own limit.

Both env families truncate by themselves at their step limit (RoboSumo gives the draw penalty
there); Gymnasium's ``TimeLimit`` alone would cut a bout short without the draw, or never let it
run past the env's limit. The ids carry ``StepLimitSync`` as their additional wrapper.
"""

from __future__ import annotations

from typing import Any

import gymnasium


class StepLimitSync(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Makes the env's own step limit equal to the ``TimeLimit`` that ``gymnasium.make`` puts
    beneath it, so that a bout truncated by ``max_episode_steps=N`` ends as a draw at step N
    (with the draw penalty), also for N above the default 500.

    The ids carry it as their additional wrapper; a ``TimeLimit`` wrapped around the env by hand
    afterwards is not seen: give the limit to ``gymnasium.make`` instead.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        inner: Any = env
        while isinstance(inner, gymnasium.Wrapper):
            if isinstance(inner, gymnasium.wrappers.TimeLimit):
                set_step_limit(env.unwrapped, inner._max_episode_steps)
                break
            inner = inner.env


def set_step_limit(env: gymnasium.Env, steps: int) -> None:
    """Set the step limit (the draw) of an unwrapped RoboSumo or locomotion env."""
    target = getattr(env, "sumo", env)
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"max_episode_steps must be an integer >= 1, got {steps!r}")
    target.max_steps = steps


STEP_LIMIT_SYNC = gymnasium.envs.registration.WrapperSpec(
    "StepLimitSync", "envs.timelimit:StepLimitSync", {})
