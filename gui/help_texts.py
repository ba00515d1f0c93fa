"""Texts for Help: what `units` means, the shortcuts, About."""

from gui.actions import shortcut_rows

UNITS_EXPLAINED = """
<h3>What does <code>units</code> mean?</h3>
<p><code>keras.layers.LSTM(units=N)</code> builds <b>N cells that run side by side</b>. At every
timestep all N of them read the same input x<sub>t</sub> and the <i>whole</i> previous output
h<sub>t-1</sub> of all N units, and each updates its own gates f, i, o, its candidate g, its cell
state C and its output h — together, in one step.</p>
<p>It is <b>not</b> the number of timesteps (that is T, the length of the input), <b>not</b> one
cell run N times, and <b>not</b> N independent copies: the recurrent kernel U (shape N × 4N)
couples every unit to every other.</p>
<p>In the window: the <b>units panel</b> has one lane per unit. Press <b>F10</b> — one new column
fills in for <b>all N lanes at once</b>. That column is one timestep of N parallel cells. The
badges show the shapes: kernel (D, 4N), recurrent kernel (N, 4N), bias (4N,).</p>
"""

def shortcuts_html() -> str:
    """Written from the action specs, so the list always matches the real shortcuts."""
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in shortcut_rows())
    return f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"


def about_html(version: str) -> str:
    return (f"<h3>LSTM Scope {version}</h3><p>A visual debugger for LSTM layers: step a model one "
            "timestep at a time and watch every unit's gates, cell state and output.</p>")
