"""Animated GIF of a run replayed from its history (Pillow encodes; Qt renders the frames).

Each frame is core.review.snapshot_at of a step: its curves are the history's per-cell
envelope up to that step, drawn as the live view and rewind draw them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtGui import QImage

from core.decimate import even_indices
from core.files import atomic_write_bytes

FRAMES = 48  # enough to follow the run, small enough to share
FRAME_MS = 120  # per frame; the last one is held longer so the end state can be read
HOLD_LAST_MS = 2000
WIDTH = 960  # pixels; the dashboard is scaled down to this width


def frame_steps(last_step: int, frames: int = FRAMES) -> list[int]:
    """Steps to show: evenly spread from 0 to last_step, both included, no repeats."""
    if frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    # Step k is row k of the steps 0..last_step: evenly spread rows are evenly spread steps.
    return even_indices(max(last_step, 0) + 1, frames).tolist()


def to_pil(image: QImage, width: int = WIDTH):
    """A QImage as an RGB Pillow image, scaled to width (aspect kept)."""
    from PIL import Image

    if image.width() > width:
        image = image.scaledToWidth(width, mode=_smooth())
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    stride = rgb.bytesPerLine()
    data = bytes(rgb.constBits())[: stride * rgb.height()]
    return Image.frombuffer("RGB", (rgb.width(), rgb.height()), data, "raw", "RGB", stride, 1)


def write_gif(images: Iterable[QImage], path: str | Path, width: int = WIDTH) -> int:
    """Encode the images as a looping GIF at path, atomically; return the frame count."""
    from PIL import Image

    frames = [to_pil(img, width) for img in images]
    if not frames:
        raise ValueError("no frames to write")
    # One palette for all frames keeps colours steady from frame to frame.
    palette = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    quantized = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    durations = [FRAME_MS] * (len(quantized) - 1) + [HOLD_LAST_MS]
    buffer = io.BytesIO()
    quantized[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=quantized[1:],
        duration=durations,
        loop=0,
        optimize=False,
        disposal=1,
    )
    atomic_write_bytes(Path(path), buffer.getvalue())
    return len(quantized)


def _smooth():
    from PySide6.QtCore import Qt

    return Qt.TransformationMode.SmoothTransformation
