"""What-if runs: a fork edits h, c, x_t or the recurrent kernel of a run and continues from there."""
