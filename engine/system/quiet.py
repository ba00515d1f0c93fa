"""Keep the command line's stderr to LSTM Scope's own lines (see docs/architecture.md).

Python warnings (numpy's RuntimeWarning with a source line, a framework's DeprecationWarning)
say nothing a user can act on: the CLI reports NaN/Inf and its other findings in its own
one-line ``warning:`` messages instead. The frameworks' C++ loggers (TensorFlow, ONNX Runtime)
write straight to stderr, so they are turned down before they are first imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import warnings
from typing import Any

ORT_ERROR = 3          # onnxruntime severity: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal


def quiet_frameworks() -> None:
    """Silence Python warnings and the frameworks' native logs for this process."""
    warnings.simplefilter("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "onnxruntime" in sys.modules:
        _quiet_ort(sys.modules["onnxruntime"])
    elif not any(isinstance(f, _OrtHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _OrtHook())


def _quiet_ort(ort: Any) -> None:
    setter = getattr(ort, "set_default_logger_severity", None)
    if setter is not None:
        setter(ORT_ERROR)


class _OrtHook(importlib.abc.MetaPathFinder):
    """Sets ONNX Runtime's default log severity as soon as it is imported."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "onnxruntime":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_quiet(module: Any) -> None:
            exec_module(module)
            _quiet_ort(module)
        loader.exec_module = exec_and_quiet    # type: ignore[method-assign]
        return spec
