"""The engine's mLSTM run against the xlstm package's own ``mLSTMCell``, in the same process.

    python -m benchmarks.mlstm_bench [--units 64 256] [--heads 4] [--steps 256] [--batch 1 8]

Both compute the same cell (weights drawn at random) over the same q, k, v, one thread each:
the package's ``forward`` (its parallel form, T x T per head, what a stack runs) and its
``step`` called once per position (the recurrent form the engine steps). The figure is CPU
time, best of ``--repeat`` runs, with the engine's time as a share of each baseline measured in
the same run (docs/architecture.md, "mLSTM"). The engine records C at every step, which the
package's forward never forms.
"""

from __future__ import annotations

import numpy as np

from benchmarks.xlstm_cell_bench import best_cpu_seconds as _best
from benchmarks.xlstm_cell_bench import cell_bench_args


def main(argv: list[str] | None = None) -> None:
    args = cell_bench_args(argv, units=[64, 256], steps=256, batch=[1, 8])
    import torch
    from xlstm.blocks.mlstm.cell import mLSTMCell, mLSTMCellConfig

    import engine  # noqa: F401  (hands the mLSTM runner to the stepper)
    from engine.loaders.xlstm_modules import mlstm_weights
    from engine.runs.stepper import DirectionRunner
    from engine.system.blas import blas_limited

    torch.set_num_threads(1)
    for n in args.units:
        cell = mLSTMCell(mLSTMCellConfig(context_length=args.steps, embedding_dim=n,
                                         num_heads=args.heads)).eval()
        with torch.no_grad():
            for p in cell.parameters():
                p.normal_(0.0, 0.3)
        w = mlstm_weights("cell", cell)
        for b in args.batch:
            x = np.random.default_rng(0).normal(size=(b, args.steps, 3 * n)).astype(np.float32)
            q, k, v = (torch.from_numpy(np.ascontiguousarray(part)) for part in np.split(x, 3, axis=-1))

            @blas_limited
            def ours(w=w, x=x) -> None:
                DirectionRunner("cell", w, x, prefill=False).run()

            def parallel(cell=cell, q=q, k=k, v=v) -> None:
                with torch.no_grad():
                    cell(q=q, k=k, v=v)

            def steps(cell=cell, q=q, k=k, v=v) -> None:
                state = None
                with torch.no_grad():
                    for t in range(q.shape[1]):
                        _, state = cell.step(q[:, t:t + 1].clone(), k[:, t:t + 1].clone(),
                                             v[:, t:t + 1].clone(), mlstm_state=state)
            forward, stepped, mine = (_best(fn, args.repeat) for fn in (parallel, steps, ours))
            print(f"N={n} heads={args.heads} T={args.steps} B={b}: engine {1e3 * mine:.0f} ms CPU, "
                  f"package forward {1e3 * forward:.0f} ms ({mine / forward:.2f}x), "
                  f"package step loop {1e3 * stepped:.0f} ms ({mine / stepped:.2f}x)")


if __name__ == "__main__":
    main()
