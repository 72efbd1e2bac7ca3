"""Help texts: the guide (every tab, view, menu and file) and the shortcut list."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

GUIDE_INTRO = """
<h3>Watch linear regression learn</h3>
<p><b>1. Set up.</b> Pick a preset from the <i>Presets</i> menu, or set the true weights, bias,
noise and sample count on the left: drag a slider or type the exact value in the box beside it.
Changing the data regenerates it and starts the run again once you let go.</p>
<p><b>2. Train.</b> Press <b>Run</b> (Space, from anywhere but a text field). Step one batch
(Ctrl+B) or one epoch (Ctrl+E) to follow it slowly, or lower the <i>Speed</i> slider. Drag the
learning rate while it runs: the change applies at once and is marked on the loss plot. Past the
stable bound shown under the slider, training diverges and pauses with an explanation. Changing
the batch size, optimizer, implementation, loss or precision mid-run goes on from the current
parameters (a new optimizer starts with fresh state), marked on the loss plot; Reset starts
over.</p>
<p><b>3. Branch.</b> Drag the timeline back to any step, change any setting and press Run: you are
asked whether to go on from the live end or to branch. A branch trains on from that step's exact
state; the former continuation stays, drawn dimmed (its loss, parameters and landscape path).
The branch list under the timeline (View &gt; Branches) switches, renames and deletes branches.</p>
<p><b>4. Learn.</b> Help &gt; Lessons has short guided experiments on the articles' material,
each with a set-up, what to watch, a question checked from your run, and a hint.</p>
<h4>The Training tab</h4>
<ul>
<li><b>Loss</b>: every minibatch loss (light), the loss on the whole training set after each
epoch (bold), the validation loss, and the dashed noise floor, the best any line can do on
average (without a bias term: the best this model can do), and the pink dashed SGD plateau, the
loss SGD settles at with a constant rate when batches are drawn with replacement. Under it, the
<b>learning rate</b> each step used and the schedule's plan, with the band where gradient descent
is stable shaded; pick a <i>Schedule</i> and how <i>Batches</i> are drawn under the learning
rate.</li>
<li><b>Fit</b>: the data, the true line, the least-squares line and the line being learned,
with the current minibatch highlighted. Beside it, <b>Residuals</b> (actual minus predicted),
<b>Weights</b> (true, learned and least-squares weight per feature), <b>Code</b> (the run as a
standalone Python script for the current settings, its update lines highlighted and showing the
values they computed in the latest step: gradient, velocity, moments, rate) and <b>Predict</b>
(type or paste inputs; the model's and least squares' predictions with a 95&nbsp;% interval).</li>
<li><b>Parameters</b>: each weight and the bias walking to their true values (dashed). Beside
it, <b>Eigen-directions</b>: the error along each eigen-direction of the Hessian on a log scale,
and the rate gradient descent predicts for it (dashed).</li>
<li><b>Loss landscape</b>: the training loss over two parameters you pick, with the optimizer's
path, the least-squares minimum, the Hessian's eigen-axes and the minibatch and full-batch
gradients; <i>SGD noise</i> adds a cloud of minibatch gradients with their covariance
ellipse.</li>
<li><b>Rewind</b>: the timeline under the plots scrubs back through the run; Live returns.
Under it, the <b>branch list</b> once a run has branches.</li>
</ul>
<h4>The Optimizer race tab</h4>
<p>Up to four runs, each with its own optimizer, learning rate, batch size and momentum, on the
same data from the same start; it says which came within the tolerance of least squares first.
The training run pauses while a race runs.</p>
<h4>The Sweep tab</h4>
<p>A map of two settings (learning rate, batch size, momentum, β₁, weight decay; a log range, a
linear range or a list each), coloured by the steps to tolerance, the final loss or divergence,
each cell the median over its seeds (hover for the spread). Dashed curves are where theory says
training stops being stable (2/λmax, heavy ball 2(1+β)/λmax, the minibatch bound). Click a cell
to train it in the Training tab. <b>Seeds view</b> trains the current settings over N noise
seeds and scatters the final parameters against least squares' 95&nbsp;% ellipse.</p>
<h4>Files</h4>
<ul>
<li><b>Configuration</b> (.json): the settings of a run, to open again or to pass to
<code>python main.py train --config</code>.</li>
<li><b>CSV data</b>: a table with a header row; you choose the target and the features.</li>
<li><b>Run</b> (.lrrun): the whole run with every branch, to reopen, review and continue
exactly (optimizer state and batch position included).</li>
<li><b>Python script</b> (.py): the run as a script in the articles' style (numpy and torch
only); running it trains the same run and prints the final weights and bias.</li>
<li><b>Export run</b>: a folder with every plot (PNG and SVG), the window, the history (CSV),
the configuration, the model (model.json), the predictions, the race and the sweep.</li>
<li><b>Animation</b> (GIF): the run replayed from its history.</li>
</ul>
"""


def guide_html(menus: dict[str, list[QAction]], tabs: list[str]) -> str:
    """The guide, ending with every menu's entries and what each does (from the actions)."""
    parts = [GUIDE_INTRO, "<h4>Menus</h4>"]
    for menu, actions in menus.items():
        items = "".join(
            f"<li><b>{html.escape(a.text().replace('&', ''))}</b>: "
            f"{html.escape(a.statusTip() or a.toolTip())}</li>"
            for a in actions
            if not a.isSeparator()
        )
        parts.append(f"<p><b>{html.escape(menu)}</b></p><ul>{items}</ul>")
    parts.append("<p>Tabs: " + ", ".join(html.escape(t) for t in tabs) + ".</p>")
    return "".join(parts)


def shortcuts_html(actions: list[QAction]) -> str:
    """An HTML table of the actions and their shortcuts."""
    rows = []
    for action in actions:
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText) or "-"
        rows.append(f"<tr><td><b>{key}</b></td><td>{action.text().replace('&', '')}</td></tr>")
    return "<table cellspacing='6'>" + "".join(rows) + "</table>"


class TextDialog(QDialog):
    """A non-modal, resizable window of rich text that scrolls (the guide, the shortcuts)."""

    def __init__(self, title: str, html_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._html = html_text
        browser = QTextBrowser()
        browser.setOpenExternalLinks(False)
        browser.setHtml(html_text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        self.resize(560, 640)

    def text(self) -> str:
        """The text shown, as HTML."""
        return self._html
