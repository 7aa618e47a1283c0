"""Policies on the robot: observation and action adapters (today), models, checkpoints and the node (later)."""
