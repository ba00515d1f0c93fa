"""Exact gradients of a target through a run: the target, each op's and each layer's backward, long runs in segments, what the views show."""
