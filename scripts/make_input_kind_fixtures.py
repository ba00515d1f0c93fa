"""Write the fixtures of models whose input is not (batch, time, features): an image read by a
CNN then a BiLSTM (as an OCR model reads a text line), and a waveform framed by a strided
Conv1d then read by an LSTM (as an audio model). Both are exported to ONNX by torch, so LSTM
Scope captures what each LSTM receives with ONNX Runtime.

Rerun (seeded, deterministic) with torch==2.13.0, onnx and onnxruntime installed:

    python scripts/make_input_kind_fixtures.py

Writes into tests/fixtures/capture/, as ``scripts/make_capture_fixtures.py`` does: the model
(``NAME.onnx``), ``NAME.input.npz`` (the model's input by name) and ``NAME.ref.npz`` (torch's
model output, and per traced layer the input the LSTM received and its h, c at every input
position, stepped by torch one timestep at a time).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_capture_fixtures import OUT, _save, lstm_input, torch_steps  # noqa: E402


def reverse_steps(lstm, x: np.ndarray):
    """h, c of the reverse direction of a one-layer bidirectional nn.LSTM, at each input
    position: a forward nn.LSTM with the reverse weights, stepped over the reversed input."""
    import torch
    single = torch.nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").copy_(getattr(lstm, f"{name}_l0_reverse"))
    h, c = torch_steps(single, np.ascontiguousarray(x[:, ::-1]))
    return np.ascontiguousarray(h[:, ::-1]), np.ascontiguousarray(c[:, ::-1])


def image_bilstm() -> None:
    """An image (1, 1, 16, 40) through Conv2d, ReLU, MaxPool, its 20 columns of 4 x 8 features
    read left to right by a BiLSTM (6 units each way), then a Linear per column."""
    import torch
    torch.manual_seed(26)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.pool = torch.nn.MaxPool2d(2)
            self.lstm = torch.nn.LSTM(32, 6, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(12, 5)

        def forward(self, image):
            f = self.pool(torch.relu(self.conv(image)))          # (B, 4, 8, 20)
            b, ch, hh, w = f.shape
            seq = f.permute(0, 3, 1, 2).reshape(b, w, ch * hh)    # (B, 20, 32): columns
            y, _ = self.lstm(seq)
            return self.head(y)

    net = Net().eval()
    yy, xx = np.mgrid[0:16, 0:40]
    stripes = np.sin(xx / 3.0) * np.cos(yy / 4.0)                  # a picture, not noise
    noise = np.random.default_rng(26).normal(0, 0.1, (16, 40))
    image = (stripes + noise).astype(np.float32)[None, None]
    torch.onnx.export(net, (torch.from_numpy(image),), str(OUT / "image_bilstm.onnx"),
                      dynamo=False, input_names=["image"], opset_version=17)
    with torch.no_grad():
        x_in, out = lstm_input(net.lstm, lambda: net(torch.from_numpy(image)).numpy())
    single = torch.nn.LSTM(32, 6, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").copy_(getattr(net.lstm, f"{name}_l0"))
    h, c = torch_steps(single, x_in)
    hb, cb = reverse_steps(net.lstm, x_in)
    _save("image_bilstm", {"image": image}, out,
          [("/lstm/LSTM/forward", x_in, h, c), ("/lstm/LSTM/backward", x_in, hb, cb)],
          model="image_bilstm.onnx", torch=torch.__version__)


def audio_lstm() -> None:
    """A waveform (1, 800) framed by a strided Conv1d into 39 frames of 8 features, read by an
    LSTM (6 units), then a Linear on its last h."""
    import torch
    torch.manual_seed(27)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.frames = torch.nn.Conv1d(1, 8, 40, stride=20)
            self.lstm = torch.nn.LSTM(8, 6, batch_first=True)
            self.head = torch.nn.Linear(6, 3)

        def forward(self, wave):
            f = torch.tanh(self.frames(wave.unsqueeze(1)))     # (B, 8, 39)
            y, _ = self.lstm(f.transpose(1, 2))                # (B, 39, 6)
            return self.head(y[:, -1])

    net = Net().eval()
    t = np.arange(800) / 800.0
    chirp = np.sin(2 * np.pi * (5 + 40 * t) * t) * np.exp(-2 * t)
    wave = (chirp + np.random.default_rng(27).normal(0, 0.05, 800)).astype(np.float32)[None]
    torch.onnx.export(net, (torch.from_numpy(wave),), str(OUT / "audio_lstm.onnx"),
                      dynamo=False, input_names=["wave"], opset_version=17)
    with torch.no_grad():
        x_in, out = lstm_input(net.lstm, lambda: net(torch.from_numpy(wave)).numpy())
    h, c = torch_steps(net.lstm, x_in)
    _save("audio_lstm", {"wave": wave}, out, [("/lstm/LSTM/forward", x_in, h, c)],
          model="audio_lstm.onnx", torch=torch.__version__)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    image_bilstm()
    audio_lstm()


if __name__ == "__main__":
    main()
