"""Analyses for teaching and inspection: per-unit statistics, strongest links and decoupling, units found by a text feature."""
