"""What the engine takes from the machine, carefully: files (the one atomic writer), archives and input files, memory budgets, BLAS threads, child processes, progress and quiet stderr."""
