"""Video input through the ffmpeg binary shipped in imageio-ffmpeg: probe, frames, audio.

Frames are sampled at a fixed rate with ffmpeg's ``fps`` filter; each frame's timestamp is
read from ffmpeg itself (the ``showinfo`` filter), not assumed. The soundtrack is written
as 16 kHz mono 16-bit PCM WAV, the rate speech models use.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

AUDIO_RATE = 16000  # Hz, mono
SILENCE_PEAK = 10 ** (-60 / 20)  # a track whose peak stays under -60 dBFS counts as silent


class VideoError(RuntimeError):
    """A video that cannot be used; the message is one line naming the file and why."""


@dataclass(frozen=True)
class VideoInfo:
    """What ``ffmpeg -i`` says about a file. ``duration`` and ``start`` in seconds."""

    path: Path
    duration: float
    start: float
    fps: float | None
    width: int
    height: int
    has_audio: bool
    audio_rate: int | None
    audio_codec: str | None = None  # None: no audio stream

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def expected_frames(self) -> int | None:
        """Frame count estimated from duration x fps (for progress bars only)."""
        return round(self.duration * self.fps) if self.duration and self.fps else None


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg ships (or a system one it finds)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise VideoError("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                          capture_output=True, text=True, encoding="utf-8", errors="replace")


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else "ffmpeg failed"


def probe(path: str | Path) -> VideoInfo:
    """Duration, frame rate, size and audio presence of a video file (VideoError if unusable)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video not found")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    err = _run(["-i", str(path)]).stderr  # ffmpeg prints the stream list, then "no output" error
    video = re.search(r"Stream #\S+.*?: Video: .*", err)
    if video is None:
        reason = "no video stream" if "Stream #" in err else "not a readable video"
        raise VideoError(f"{path}: {reason} ({_last_error_line(err)})")
    size = re.search(r", (\d{2,5})x(\d{2,5})", video.group(0))
    fps = re.search(r", ([\d.]+) fps", video.group(0))
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    start = re.search(r"start: (-?[\d.]+)", err)
    audio = re.search(r"Stream #\S+.*?: Audio: (\w+).*?(\d+) Hz", err)
    if duration is None:
        raise VideoError(f"{path}: ffmpeg reports no duration (stream not seekable?)")
    hours, minutes, seconds = duration.groups()
    return VideoInfo(
        path=path,
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        start=float(start.group(1)) if start else 0.0,
        fps=float(fps.group(1)) if fps else None,
        width=int(size.group(1)) if size else 0,
        height=int(size.group(2)) if size else 0,
        has_audio=audio is not None,
        audio_rate=int(audio.group(2)) if audio else None,
        audio_codec=audio.group(1) if audio else None,
    )


def extract_frames(info: VideoInfo, folder: Path, fps: float) -> list[tuple[str, float]]:
    """Frames at ``fps`` per second into ``folder/frame0000.jpg, ...``.

    Written to a temporary sibling folder that is renamed when ffmpeg succeeds, so a crash
    leaves no half-extracted folder. Returns ``(name, timestamp_seconds)`` per frame, the
    timestamp measured from the start of the video, strictly increasing.
    """
    if fps <= 0:
        raise VideoError(f"--fps must be > 0, got {fps}")
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = _run(["-i", str(info.path), "-an", "-vf", f"fps={fps},showinfo", "-fps_mode", "passthrough",
                   "-q:v", "2", "-start_number", "0", str(tmp / "frame%04d.jpg")])
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise VideoError(f"{info.path}: frame extraction failed ({_last_error_line(result.stderr)})")
    times = [float(t) for t in re.findall(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.]+)", result.stderr)]
    files = sorted(tmp.glob("frame*.jpg"))
    if len(times) != len(files):
        shutil.rmtree(tmp, ignore_errors=True)
        raise VideoError(f"{info.path}: ffmpeg wrote {len(files)} frames "
                         f"but reported {len(times)} timestamps")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)
    return [(f.stem, round(t - info.start, 6)) for f, t in zip(files, times)]


def extract_audio(info: VideoInfo, wav_path: Path) -> None:
    """The first audio stream as 16 kHz mono 16-bit WAV at ``wav_path`` (atomic write)."""
    if not info.has_audio:
        raise VideoError(f"{info.path}: no audio stream")
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav_path.with_name(f".{wav_path.name}.tmp")
    result = _run(["-y", "-i", str(info.path), "-vn", "-map", "0:a:0", "-ac", "1", "-ar", str(AUDIO_RATE),
                   "-c:a", "pcm_s16le", "-f", "wav", str(tmp)])
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise VideoError(f"{info.path}: audio extraction failed ({_last_error_line(result.stderr)})")
    tmp.replace(wav_path)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV -> ``(samples,)`` float32 in [-1,1] (channels averaged), sample rate."""
    with wave.open(str(path), "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise VideoError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def is_silent(samples: np.ndarray) -> bool:
    """True when the peak level stays under -60 dBFS (or there are no samples)."""
    return samples.size == 0 or float(np.abs(samples).max()) < SILENCE_PEAK
