"""Offline training of the policies the policy server runs, and their evaluation in the sim, in process."""
