"""Simulation only: the robot bodies, the RoboSumo arena and nonstationary locomotion."""
