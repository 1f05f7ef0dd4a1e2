"""Test inputs for dataset preparation: faces, broken files, and short videos made with ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CELEBA30 = REPO.parent / "shared" / "fixtures" / "celeba30"


def astronaut(size: int = 512) -> np.ndarray:
    """scikit-image's public-domain astronaut photo, ``(size,size,3)`` uint8 RGB."""
    from skimage import data

    image = data.astronaut()
    return image if size == 512 else cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def moving_frames(count: int, size: int) -> np.ndarray:
    """``(count,size,size,3)`` uint8: the astronaut panning and zooming slowly."""
    image = astronaut(512)
    frames = []
    for i in range(count):
        scale = 1.0 + 0.1 * i / max(count - 1, 1)
        shift = 24.0 * i / max(count - 1, 1)
        m = np.array([[scale, 0, -shift], [0, scale, -shift / 2]], np.float32)
        warped = cv2.warpAffine(image, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
        frames.append(cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(frames)


def make_video(path: Path, seconds: float, fps: int = 10, size: int = 320,
               audio: str | None = "tone") -> Path:
    """Write an H.264 mp4 of the moving astronaut with the ffmpeg shipped in imageio-ffmpeg.

    ``audio``: "tone" (440 Hz sine), "silent" (an all-zero track) or None (no audio stream).
    """
    import imageio_ffmpeg

    frames = moving_frames(int(round(seconds * fps)), size)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}", "-r", str(fps), "-i", "-"]
    if audio == "tone":
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    elif audio == "silent":
        cmd += ["-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio is not None:
        cmd += ["-c:a", "aac", "-shortest"]
    cmd.append(str(path))
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path
