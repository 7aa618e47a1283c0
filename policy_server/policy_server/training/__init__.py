"""Offline training of the policy-server models: SAC, CQL, SAC-CQL-SI, PLAS, BC, PolyTask, COG."""
