import numpy as np, traceback, sys
from engine import Session
from gui.loader_worker import LoadResult
from gui.session_files import open_session_dialog, save_session_dialog
from gui.export.figure import export_view
from tests.gui.conftest import small_model

def attempt(name, fn):
    try:
        r = fn(); print(name, "OK", repr(r)[:100])
    except Exception:
        print(name, "FAILED"); traceback.print_exc(limit=-4)

def test_probe(make_window, qtbot, tmp_path, monkeypatch):
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)
    old = sys.excepthook
    seen = []
    def hook(*a):
        seen.append(a); traceback.print_exception(*a[:3])
    monkeypatch.setattr(sys, "excepthook", hook)
    model = small_model(6, 3)
    x = np.random.default_rng(4).normal(size=(2, 700, 3)).astype(np.float32)
    ck = Session(model, x, checkpoint_above=0)
    w = make_window()
    w.resize(1300, 900); w.show()
    w.show_loaded(LoadResult(ck, "test-model", "test-input"))
    w.first_pass.cancel(); w.first_pass.wait()
    sm = w.session_model
    sm.seek(400)
    for dock in (w.input_dock, w.breakpoints_dock, w.watches_dock, w.forks_dock,
                 w.input_editor_dock, w.cell_dock, w.layer_dock, w.grad_dock, w.compare_dock):
        attempt(dock.windowTitle(), lambda d=dock: (d.show(), d.raise_(), w.grab()))
    attempt("select", lambda: sm.select(2, 399))
    attempt("bp", lambda: (w.breakpoints_panel.edit.setText("any(abs(c) > 0.5)"), w.breakpoints_panel.add_from_edit()))
    attempt("watch", lambda: (w.watches_panel.edit.setText("max(h)"), w.watches_panel.add_from_edit(), w.grab()))
    attempt("continue", lambda: w.run_continue(1))
    attempt("continue back", lambda: w.run_continue(-1))
    attempt("fork", lambda: w.forks_panel.perturb(0, 0.3))
    attempt("grab", lambda: w.grab())
    attempt("compare noise", lambda: w.compare_panel.compare_noise())
    attempt("grab", lambda: w.grab())
    for v in ("units", "layer", "cell", "window", "grad", "compare"):
        for ext in ("png", "csv", "npz"):
            attempt(f"export {v}.{ext}", lambda v=v, ext=ext: export_view(w, v, tmp_path / f"{v}.{ext}", width=600))
    attempt("export gif", lambda: export_view(w, "units", tmp_path / "u.gif", positions=range(390, 395), width=300))
    attempt("save session", lambda: save_session_dialog(w, w.debugging, str(tmp_path / "s.lstmscope")))
    monkeypatch.setattr("engine.session.DEFAULT_BUDGET_BYTES", 1024)
    w2 = make_window()
    attempt("open session", lambda: open_session_dialog(w2, w2.debugging, str(tmp_path / "s.lstmscope")))
    attempt("grab2", lambda: w2.grab())
    print("ERRORS", w.errors, w2.errors, len(seen))
    for win in (w, w2):
        win.first_pass.cancel(); win.first_pass.wait()
