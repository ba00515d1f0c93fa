"""What a cell is: each kind's spec (the paper's step and its vjp, in numpy) and table of signals and badges (LSTM, GRU, simple RNN), and the activations."""
