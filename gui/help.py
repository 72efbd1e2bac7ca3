"""Help texts: a short guide and the shortcut list."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

GUIDE_HTML = """
<h3>Watch linear regression learn</h3>
<p><b>1. Set up.</b> Pick a preset from the <i>Presets</i> menu, or set the true weights,
bias, noise and sample count on the left. Changing the data regenerates it and resets the run.</p>
<p><b>2. Train.</b> Press <b>Run</b> (Space). The <i>loss</i> plot shows every minibatch loss
(light) and the loss on the whole training set after each epoch (bold); the dashed line is the
noise floor, the best any line can do on average. The <i>fit</i> plot shows the data, the true
line, the least-squares line and the line being learned; the current minibatch is highlighted.
The <i>parameters</i> plot shows each weight and the bias walking to their true values
(dashed).</p>
<p><b>3. Experiment.</b> Drag the learning rate while it runs: the change applies at once and is
marked on the loss plot. Past the stable bound shown under the slider, training diverges and
pauses with an explanation. Step one batch (Ctrl+B) or one epoch (Ctrl+E) to follow it slowly,
or lower the speed slider.</p>
<p><b>4. Keep it.</b> File &gt; Export run writes every plot (PNG and SVG), the window, the
history (CSV) and the configuration (JSON); File &gt; Save configuration keeps the setup.</p>
"""


def shortcuts_html(actions: list[QAction]) -> str:
    """An HTML table of the actions and their shortcuts."""
    rows = []
    for action in actions:
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText) or "-"
        rows.append(f"<tr><td><b>{key}</b></td><td>{action.text().replace('&', '')}</td></tr>")
    return "<table cellspacing='6'>" + "".join(rows) + "</table>"
