"""Write Keras 2 files as they were saved in the wild into tests/fixtures/keras2/, with the
numbers tf-keras computes on them:

* ``cudnn_bidirectional.h5``: ``Bidirectional(CuDNNLSTM)`` saved by tf-keras (each direction's
  bias (8N,), cuDNN's kernel layout); the reference is tf-keras' ``Bidirectional(LSTM)`` after
  ``load_weights`` converted that file.
* ``textgen_cudnn.hdf5`` + ``textgen_cudnn.json``: a small model of textgenrnn's architecture
  (Input -> Embedding -> LSTM rnn_1 -> LSTM rnn_2 -> Concatenate([embedding, rnn_1, rnn_2]) ->
  a custom AttentionWeightedAverage -> Dense): its weights saved with ``save_weights`` from the
  CuDNNLSTM build (as textgenrnn's bundled weights were trained on a GPU), its JSON config from
  the CPU build (LSTM with recurrent_activation='sigmoid'), as ``model.to_json()`` writes it.
  The reference is the CPU build after ``load_weights(by_name=True)`` converted the file.
* ``keras21_list.h5``: a Sequential written as Keras 2.1 wrote it (``model_config`` whose
  ``config`` is the bare layer list, attributes as bytes, weight names without the cell scope
  ``lstm_1/kernel:0``, ``keras_version`` 2.1.6): Embedding -> LSTM (hard_sigmoid, Keras 2.1's
  default) -> Bidirectional(LSTM) -> BatchNormalization -> Conv1D -> GlobalMaxPooling1D ->
  Dense. The arrays are tf-keras' own; the script reloads the file with tf-keras (which still
  reads the list form) and checks it predicts the same.

Each ``NAME.npz`` has the keys of scripts/make_tfkeras_fixtures.py (``x``, ``output``, ``meta``
and per traced direction ``layer{k}_*``). Run in a separate virtualenv with ``tensorflow-cpu``
and ``tf-keras`` (see make_tfkeras_fixtures.py)::

    TF_USE_LEGACY_KERAS=1 /path/to/tf-venv/bin/python scripts/make_keras2_saved_fixtures.py

Seeds are fixed. TensorFlow is never needed to read the files: tests use h5py and numpy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tfkeras_fixtures as base  # noqa: E402  (sets TF_USE_LEGACY_KERAS, imports tf-keras)

tf, keras, L = base.tf, base.keras, base.L
OUT = base.OUT


# --- Bidirectional(CuDNNLSTM) --------------------------------------------------------------------
def cudnn_bidirectional(rng: np.random.Generator) -> None:
    name, seed = "cudnn_bidirectional", 50
    base.fresh(seed)
    cudnn = tf.compat.v1.keras.layers.CuDNNLSTM
    model = keras.Sequential([L.Bidirectional(cudnn(3, return_sequences=True), input_shape=(5, 2),
                                              name="bi")])
    base.randomize(model, seed)
    model.save(str(OUT / f"{name}.h5"))
    base.fresh(seed)
    twin = keras.Sequential([L.Bidirectional(L.LSTM(3, return_sequences=True), input_shape=(5, 2),
                                             name="bi")])
    twin.load_weights(str(OUT / f"{name}.h5"))      # tf-keras converts each direction
    x = base.seq_x(rng, 2, 5, 2)
    outputs = base.predict(twin, x)
    traced, _ = base.trace_model(twin, x)
    base.write_npz(name, x, outputs, traced, {
        "case": name, "layers": base.layer_configs(model),
        "description": "Bidirectional(CuDNNLSTM(3, return_sequences=True)) saved by tf-keras; "
                       "reference: Bidirectional(LSTM) after load_weights converted the file"})
    print(f"  {name}.h5: traced {[n for n, _ in traced]}")


# --- a textgenrnn-shaped model: CuDNN weights, LSTM config, a custom layer -----------------------
class AttentionWeightedAverage(L.Layer):
    """textgenrnn's attention layer (a softmax over time of x @ W, then the weighted mean)."""

    def build(self, input_shape):
        self.W = self.add_weight(shape=(input_shape[2], 1), name=f"{self.name}_W",
                                 initializer="uniform")
        super().build(input_shape)

    def call(self, x, mask=None):
        logits = tf.squeeze(tf.tensordot(x, self.W, 1), -1)
        ai = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
        weights = ai / (tf.reduce_sum(ai, axis=1, keepdims=True) + keras.backend.epsilon())
        return tf.reduce_sum(x * weights[..., None], axis=1)

    def compute_mask(self, inputs, mask=None):
        return None


def textgen_model(vocab: int, length: int, dim: int, units: int, cudnn: bool):
    """textgenrnn's textgenrnn_model: its GPU build (CuDNNLSTM) or its CPU build (LSTM with
    sigmoid gates, for parity with CuDNNLSTM)."""
    inp = keras.Input(shape=(length,), name="input")
    embedded = L.Embedding(vocab, dim, input_length=length, name="embedding")(inp)
    rnns = []
    for k in (1, 2):
        prev = embedded if k == 1 else rnns[-1]
        layer = (tf.compat.v1.keras.layers.CuDNNLSTM(units, return_sequences=True, name=f"rnn_{k}")
                 if cudnn else L.LSTM(units, return_sequences=True, recurrent_activation="sigmoid",
                                      name=f"rnn_{k}"))
        rnns.append(layer(prev))
    concat = L.concatenate([embedded] + rnns, name="rnn_concat")
    attention = AttentionWeightedAverage(name="attention")(concat)
    return keras.Model(inp, L.Dense(vocab, activation="softmax", name="output")(attention))


def textgen_cudnn(rng: np.random.Generator) -> None:
    name, seed = "textgen_cudnn", 51
    vocab, length, dim, units = 14, 7, 5, 6
    base.fresh(seed)
    gpu = textgen_model(vocab, length, dim, units, cudnn=True)
    base.randomize(gpu, seed)
    weights = OUT / f"{name}.hdf5"
    gpu.save_weights(str(weights))              # HDF5 (the suffix): weights only, no config
    base.fresh(seed)
    cpu = textgen_model(vocab, length, dim, units, cudnn=False)
    cpu.load_weights(str(weights), by_name=True)     # as textgenrnn loads its bundled file
    (OUT / f"{name}.json").write_text(cpu.to_json())
    tokens = rng.integers(1, vocab, (2, length)).astype(np.float32)   # textgenrnn feeds floats
    outputs = base.predict(cpu, tokens)
    traced = []
    for layer_name in ("rnn_1", "rnn_2"):
        layer = cpu.get_layer(layer_name)
        x = base.predict(keras.Model(cpu.inputs, layer.input), tokens)[0]
        tr = base.step_direction(layer, x, None, False)
        base.check_lstm(layer, tr, base.predict(keras.Model(cpu.inputs, layer.output), tokens)[0])
        traced.append((layer_name, tr))
    base.write_npz(name, tokens, outputs, traced, {
        "case": name, "config": f"{name}.json", "params": int(cpu.count_params()),
        "description": "textgenrnn's architecture, small: weights saved from the CuDNNLSTM build "
                       "(save_weights), config from the CPU build (LSTM, sigmoid gates); "
                       "reference: the CPU build after load_weights(by_name=True) converted the "
                       "weights. rnn_concat and the custom attention layer follow the LSTMs."})
    print(f"  {name}.hdf5 + .json: traced {[n for n, _ in traced]}")


# --- a Sequential as Keras 2.1 wrote it ----------------------------------------------------------
_KERAS21_DROPPED = ("time_major", "zero_output_for_mask", "module", "registered_name", "groups",
                    "keepdims")


def _keras21_config(value):
    """A layer config as Keras 2.1 wrote it: without the keys later versions added."""
    if isinstance(value, dict):
        return {k: _keras21_config(v) for k, v in value.items() if k not in _KERAS21_DROPPED}
    if isinstance(value, list):
        return [_keras21_config(v) for v in value]
    return value


def _keras21_weight_names(layer) -> list[str]:
    """``lstm_1/kernel:0``: Keras 2.1 named weights by layer, without tf-keras' cell scope."""
    names = []
    for w in layer.weights:
        parts = w.name.split("/")
        if isinstance(layer, L.Bidirectional):        # bi/forward_lstm/lstm_cell/kernel:0
            names.append("/".join([layer.name, parts[1], parts[-1]]))
        else:
            names.append(f"{layer.name}/{parts[-1]}")
    return names


def write_keras21_h5(model, path: Path) -> None:
    """The model as Keras 2.1's ``save_model`` laid it out, written with h5py."""
    layers = []
    for layer in model.layers:
        cfg = _keras21_config(layer.get_config())
        layers.append({"class_name": layer.__class__.__name__, "config": cfg})
    config = {"class_name": "Sequential", "config": layers}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.1.6"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf-8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.1.6"
        for layer in model.layers:
            sub = group.create_group(layer.name)
            names = _keras21_weight_names(layer)
            sub.attrs["weight_names"] = np.array([n.encode() for n in names]) if names else np.array([])
            for n, value in zip(names, layer.get_weights()):
                sub.create_dataset(n, data=value)


def keras21_list(rng: np.random.Generator) -> None:
    name, seed = "keras21_list", 52
    base.fresh(seed)
    model = keras.Sequential([
        L.Embedding(11, 4, input_length=9, name="embedding_1"),
        L.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid", name="lstm_1"),
        L.Bidirectional(L.LSTM(3, return_sequences=True, recurrent_activation="hard_sigmoid"),
                        name="bidirectional_1"),
        L.BatchNormalization(name="batch_normalization_1"),
        L.Conv1D(4, 3, name="conv1d_1"),
        L.GlobalMaxPooling1D(name="global_max_pooling1d_1"),
        L.Dense(2, activation="softmax", name="dense_1"),
    ])
    base.randomize(model, seed)
    bn = model.get_layer("batch_normalization_1")     # a variance must stay positive
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, beta, mean, np.abs(var) + 0.5])
    tokens = rng.integers(0, 11, (3, 9)).astype(np.int32)
    outputs = base.predict(model, tokens)
    traced = []
    y = tokens
    for layer in model.layers[:3]:
        if isinstance(layer, L.LSTM):
            tr = base.step_direction(layer, y, None, False)
            base.check_lstm(layer, tr, np.asarray(layer(y)))
            traced.append((layer.name, tr))
        elif isinstance(layer, L.Bidirectional):
            fw = base.step_direction(layer.forward_layer, y, None, False)
            bw = base.step_direction(layer.backward_layer, y, None, True)
            base.check_bidirectional(layer, fw, bw, np.asarray(layer(y)))
            traced += [(f"{layer.name}/forward", fw), (f"{layer.name}/backward", bw)]
        y = np.asarray(layer(y))
    path = OUT / f"{name}.h5"
    write_keras21_h5(model, path)
    again = keras.models.load_model(str(path), compile=False)
    base.close(base.predict(again, tokens)[0], outputs[0], f"{name}: tf-keras reloading the file")
    base.write_npz(name, tokens, outputs, traced, {
        "case": name, "layers": base.layer_configs(model), "params": int(model.count_params()),
        "description": "Keras 2.1-style Sequential (config is the bare layer list, bytes "
                       "attributes, unscoped weight names): Embedding -> LSTM(hard_sigmoid) -> "
                       "Bidirectional(LSTM) -> BatchNormalization -> Conv1D -> GlobalMaxPooling1D "
                       "-> Dense; output is the whole model's (tf-keras predict)"})
    print(f"  {name}.h5: traced {[n for n, _ in traced]} (Keras 2.1 layout)")


def main() -> None:
    rng = np.random.default_rng(20260207)
    print(f"tf-keras {base.KERAS_VERSION}, TensorFlow {base.TF_VERSION} -> {OUT}")
    cudnn_bidirectional(rng)
    textgen_cudnn(rng)
    keras21_list(rng)


if __name__ == "__main__":
    main()
