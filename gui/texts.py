"""Words the window shows: labels of choices and the tooltip of every control."""

from __future__ import annotations

from core.config import HAND_WRITTEN_OPTIMIZERS, MAX_FEATURES, MAX_SAMPLES

DEFAULT_NEW_WEIGHT = 1.0  # true weight of a feature added with + Feature

IMPLEMENTATION_LABELS = {
    "numpy": "NumPy (hand gradients)",
    "scratch": "Scratch (autograd)",
    "module": "Module (nn.Linear)",
}
OPTIMIZER_LABELS = {
    "sgd": "SGD",
    "momentum": "Momentum (heavy ball)",
    "nesterov": "Nesterov momentum",
    "adam": "Adam",
    "adamw": "AdamW (decoupled decay)",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}
LOSS_LABELS = {"mse": "MSE", "half_mse": "½ MSE (d2l squared_loss)"}

DEVICE_LABELS = {"auto": "auto (CUDA if present)", "cpu": "CPU", "cuda": "CUDA GPU"}

TOOLTIPS = {
    "weightsTable": (
        "True weight of each feature (rows x1, x2, ...): the data are y = X·w + b + noise.\n"
        "Double-click or type to edit. Changing a weight regenerates the data and resets the run."
    ),
    "addFeatureButton": (
        f"Add a feature with true weight {DEFAULT_NEW_WEIGHT:g} (up to {MAX_FEATURES}).\n"
        "Regenerates the data and resets the run."
    ),
    "removeFeatureButton": (
        "Remove the selected feature, or the last one if none is selected (at least one stays).\n"
        "Regenerates the data and resets the run."
    ),
    "biasSpin": "True bias b (intercept) of the data. Regenerates the data and resets the run.",
    "noiseSpin": (
        "Standard deviation σ of the Gaussian noise added to y (0 = points exactly on the line).\n"
        "The training MSE cannot fall much below σ². Regenerates the data and resets the run."
    ),
    "samplesSpin": (
        f"Number of samples generated (2 to {MAX_SAMPLES:,}), before the validation split.\n"
        "With the batch size it sets the steps per epoch. Regenerates the data and resets the run."
    ),
    "seedSpin": (
        "Random seed for the data, the validation split, the initial parameters and the batch\n"
        "order: the same seed gives the same run. Regenerates the data and resets the run."
    ),
    "valFractionSpin": (
        "Fraction of the samples held out for validation (0 = none, at most 0.9); their loss is\n"
        "plotted but never trained on. Regenerates the data and resets the run."
    ),
    "correlationSpin": (
        "Correlation between the features (0 = independent, up to 0.99). Correlated features\n"
        "stretch the loss surface into a narrow valley and slow gradient descent down.\n"
        "Regenerates the data and resets the run."
    ),
    "standardizeCheck": (
        "Train on features scaled to mean 0 and standard deviation 1 (training-set statistics);\n"
        "parameters are still shown in original units. A rounder loss surface tolerates larger\n"
        "learning rates. Resets the run."
    ),
    "implementationCombo": (
        "How the model is trained: NumPy with hand-derived gradients, tensors with autograd and a\n"
        "hand-written update (scratch), or nn.Linear + torch.optim (module). NumPy and scratch\n"
        f"offer {', '.join(HAND_WRITTEN_OPTIMIZERS)} only. Resets the run."
    ),
    "optimizerCombo": (
        "The update rule. Greyed-out optimizers need the module implementation (torch.optim).\n"
        "Resets the run."
    ),
    "lossCombo": (
        "MSE = mean((ŷ − y)²). ½ MSE halves it (d2l's squared_loss) and so halves every gradient:\n"
        "the same learning rate takes half-size steps. Resets the run."
    ),
    "batchSizeSpin": (
        "Samples per update step (minibatch). Set it to the training-set size for full-batch\n"
        "gradient descent; small batches give noisier, cheaper steps. Resets the run."
    ),
    "epochsSpin": (
        "Passes over the training set. Changing it extends or shortens the current run\n"
        "without resetting it."
    ),
    "lrSpin": (
        "Learning rate: the size of each update step. Applied live, without resetting the run.\n"
        "Above the stable bound shown below, full-batch gradient descent diverges.\n"
        "Arrow keys or the wheel change it by about 26% a step."
    ),
    "lrSlider": (
        "Learning rate on a log scale from 1e-5 to 10; drag it mid-run to change it live.\n"
        "The red zone starts at the stable bound for full-batch gradient descent."
    ),
    "lrBoundLabel": (
        "Largest learning rate for which full-batch gradient descent (plain SGD) on this data\n"
        "converges: 2 / the largest eigenvalue of the loss's Hessian. Momentum stretches it,\n"
        "minibatch noise shrinks it, and Adam-style optimizers do not follow it."
    ),
    "momentumSpin": (
        "Momentum μ of the momentum and Nesterov optimizers: how much of the previous step\n"
        "carries into the next. Applied live. Disabled for optimizers that do not use it."
    ),
    "weightDecaySpin": (
        "Weight decay λ: adds λ·p to each gradient, pulling the parameters towards 0\n"
        "(AdamW decouples it from the gradient). Applied live; it lowers the stable learning rate."
    ),
    "dtypeCombo": (
        "Floating-point precision of the data and parameters. float32 can stall short of the\n"
        "exact answer on ill-conditioned problems; float64 gets closer. Resets the run."
    ),
    "deviceCombo": (
        "Where the torch implementations compute: auto uses a CUDA GPU when PyTorch sees one,\n"
        "the CPU otherwise. The NumPy implementation always runs on the CPU. Resets the run."
    ),
    "fitBiasCheck": (
        "Learn an intercept b as well as the weights; unchecked, the line is forced through\n"
        "the origin. Resets the run."
    ),
    "speedSlider": (
        "Training speed, applied live: at the left end 1 step (one minibatch) a second, slow\n"
        "enough to follow single batches; each notch is about 10% faster, up to ~10,000 steps\n"
        "a second one notch from the right; the far right runs unthrottled (as fast as the\n"
        "machine allows). It changes only the pace, never the result."
    ),
}

# Every slider beside its box: what dragging it does.
SLIDER_TIPS = {
    "biasSlider": "Drag the true bias b (−10 to 10; type larger values in the box).",
    "noiseSlider": "Drag the noise σ (0 to 5; type larger values in the box).",
    "samplesSlider": "Drag the number of samples on a log scale (10 to 1,000,000).",
    "correlationSlider": "Drag the correlation between the features (0 to 0.99).",
    "batchSizeSlider": "Drag the batch size in powers of two (1 to 4096).",
    "momentumSlider": "Drag the momentum μ (0 to 0.999).",
    "weightDecaySlider": "Drag the weight decay λ on a log scale (0, then 1e-5 to 10).",
}
WEIGHT_SLIDER_TIP = "Drag the true weight of x{n} (−10 to 10; type larger values in the table)."
