"""The command line's engine side: trace, info and grad, with their checks and output files."""
