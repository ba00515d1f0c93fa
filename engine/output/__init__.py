"""Numbers written beside pictures: a view's data as CSV or NPZ, a trace cut to a window or streamed to a file."""
