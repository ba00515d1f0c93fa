"""Capture: the framework that owns a model runs it once and hands each traced LSTM the input
and initial state it really received; the engine then steps the LSTM itself.

``feed`` holds the framework-neutral pieces (what a capture returns, matching named inputs);
``onnx_capture``, ``keras_capture`` and ``torch_capture`` each import their framework only
when a capture runs (see docs/architecture.md, "Capture").
"""
