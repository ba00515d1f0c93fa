"""The engine's sLSTM run against the xlstm package's own vanilla cell, in the same process.

    python -m benchmarks.slstm_bench [--units 128 512] [--heads 4] [--steps 1000] [--batch 1 16]

Both step the same cell (weights drawn at random) over the same gate pre-activations, one
thread each; the figure is CPU time, best of ``--repeat`` runs, and the engine's time as a
share of the package's (the baseline measured in the same run; docs/architecture.md, "sLSTM").
"""

from __future__ import annotations

import numpy as np

from benchmarks.xlstm_cell_bench import best_cpu_seconds as _best
from benchmarks.xlstm_cell_bench import cell_bench_args


def main(argv: list[str] | None = None) -> None:
    args = cell_bench_args(argv, units=[128, 512], steps=1000, batch=[1, 16])
    import torch
    from xlstm.blocks.slstm.cell import sLSTMCell_vanilla, sLSTMCellConfig

    import engine  # noqa: F401  (hands the sLSTM runner to the stepper)
    from engine.loaders.xlstm_modules import slstm_weights
    from engine.runs.stepper import DirectionRunner
    from engine.system.blas import blas_limited

    torch.set_num_threads(1)
    for n in args.units:
        cell = sLSTMCell_vanilla(sLSTMCellConfig(hidden_size=n, num_heads=args.heads, backend="vanilla"))
        with torch.no_grad():
            for p in cell.parameters():
                p.normal_(0.0, 0.3)
        w = slstm_weights("cell", cell)
        for b in args.batch:
            x = np.random.default_rng(0).normal(size=(b, args.steps, 4 * n)).astype(np.float32)
            xt = torch.from_numpy(x)

            @blas_limited
            def ours(w=w, x=x) -> None:
                DirectionRunner("cell", w, x, prefill=False).run()

            def package(cell=cell, xt=xt) -> None:
                with torch.no_grad():
                    cell(xt)
            theirs = _best(package, args.repeat)
            mine = _best(ours, args.repeat)
            print(f"N={n} heads={args.heads} T={args.steps} B={b}: engine {1e3 * mine:.0f} ms CPU, "
                  f"xlstm vanilla {1e3 * theirs:.0f} ms CPU ({mine / theirs:.2f}x)")


if __name__ == "__main__":
    main()
