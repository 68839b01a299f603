"""Policies and learning rules: networks, samplers, PPO, meta-learners, checkpoints, the zoo."""
