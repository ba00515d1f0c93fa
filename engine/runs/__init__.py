"""A layer's run over an input: the steppers' hot loops, the recorded arrays, held and checkpointed runs, the time axis, stateful segments."""
