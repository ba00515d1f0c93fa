"""The ``bench`` command's engine figures (pure numpy; the window's figures live in gui.bench)."""

from engine.bench.report import run_bench

__all__ = ["run_bench"]
