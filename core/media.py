"""Video and sound through the ffmpeg binary shipped in imageio-ffmpeg.

- ``probe``: what a file holds (size, frame rate, duration, audio).
- ``extract_frames`` / ``extract_audio``: frames at a fixed rate with ffmpeg's ``fps``
  filter, each frame's timestamp read from ffmpeg itself (the ``showinfo`` filter), not
  assumed; the soundtrack as 16 kHz mono 16-bit PCM WAV, the rate speech models use.
- ``VideoReader`` / ``VideoWriter``: frames streamed through pipes, so a video is decoded
  once and encoded once and only the frames in hand are in memory; the writer muxes a
  soundtrack in. ``encode_video`` is the writer for a list of frames.

Every file is written under a temporary name and renamed when complete (``core.files``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.files import PendingFile, atomic_path
from core.wav import AUDIO_RATE

VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
# Audio codecs an .mp4 holds as they are; anything else is re-encoded to AAC.
MP4_AUDIO = ("aac", "mp3", "alac")
CRF = "18"  # x264 quality: visually lossless, so an output shows the model, not the codec
# x264's speed: the encoder shares the CPU with the models while a video is reconstructed;
# "veryfast" takes a fraction of "medium"'s (the default) time for a somewhat larger file at
# the same quality (docs/speed.md, "On video").
PRESET = "veryfast"


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
    demuxer = re.search(r"Input #0, ([\w,]+), from", err)
    if demuxer and (demuxer.group(1).endswith("_pipe") or demuxer.group(1) == "image2"):
        raise VideoError(f"{path}: an image ({demuxer.group(1).removesuffix('_pipe')}), not a video")
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
    with atomic_path(wav_path) as tmp:
        result = _run(["-y", "-i", str(info.path), "-vn", "-map", "0:a:0", "-ac", "1", "-ar",
                       str(AUDIO_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)])
        if result.returncode != 0:
            raise VideoError(f"{info.path}: audio extraction failed ({_last_error_line(result.stderr)})")


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


class VideoReader:
    """Frames of a video as ``(H,W,3)`` uint8 RGB arrays, decoded once, on demand.

    The file is probed on construction, so one that is not a video (or has no picture)
    fails at once with a one-line ``VideoError``.
    """

    def __init__(self, path: Path) -> None:
        import imageio_ffmpeg

        self.info: VideoInfo = probe(path)
        self._frames = imageio_ffmpeg.read_frames(str(path))
        try:
            next(self._frames)  # the header; probe already read what we need from it
        except (OSError, RuntimeError, StopIteration, ValueError, IndexError) as err:
            self._frames.close()
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise VideoError(f"{path}: not a readable video ({reason[:160]})") from None

    def __iter__(self) -> Iterator[np.ndarray]:
        width, height = self.info.size
        try:
            for raw in self._frames:
                # A writable copy: torch refuses to wrap read-only buffers.
                yield np.frombuffer(raw, np.uint8).reshape(height, width, 3).copy()
        except RuntimeError as err:
            raise VideoError(f"{self.info.path}: decoding failed ({str(err).strip()[:160]})") from None
        finally:
            self.close()

    def close(self) -> None:
        self._frames.close()


class VideoWriter:
    """Encode ``(H,W,3)`` uint8 RGB frames to an H.264 ``.mp4``, with an optional soundtrack.

    Args:
        path: the video to write; it appears only on ``close`` (an interrupted run leaves
            nothing under this name).
        size: (width, height) of every frame.
        fps: frames per second.
        audio: a file whose first audio stream is muxed in (a WAV, or the source video).
        copy_audio: keep that stream's encoding instead of re-encoding it to AAC.

    Use as a context manager (``abort`` on an exception, ``close`` otherwise) or call
    ``close`` / ``abort`` yourself.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float,
                 audio: str | Path | None = None, copy_audio: bool = False) -> None:
        import imageio_ffmpeg

        self._pending = PendingFile(path)
        self.path = self._pending.path
        params = {}
        if audio is not None:
            params = {"audio_path": str(audio), "audio_codec": "copy" if copy_audio else "aac"}
        self._frames = imageio_ffmpeg.write_frames(
            str(self._pending.tmp), size, fps=fps, codec="libx264", quality=None, macro_block_size=2,
            output_params=["-crf", CRF, "-preset", PRESET], ffmpeg_log_level="error", **params)
        self._frames.send(None)  # start ffmpeg
        self.count = 0

    @classmethod
    def like(cls, path: str | Path, source: VideoInfo) -> VideoWriter:
        """A writer with ``source``'s size, frame rate and soundtrack."""
        codec = source.audio_codec
        return cls(path, source.size, source.fps or 25.0, audio=source.path if codec else None,
                   copy_audio=codec in MP4_AUDIO)

    def write(self, frame: np.ndarray) -> None:
        self._frames.send(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> Path:
        try:
            self._frames.close()
        except (OSError, RuntimeError) as err:
            self._pending.discard()
            raise VideoError(f"{self.path}: encoding failed ({str(err).strip()[:160]})") from None
        return self._pending.commit()

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file."""
        try:
            self._frames.close()
        except (OSError, RuntimeError):
            pass
        self._pending.discard()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def encode_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                 audio: str | Path | None = None) -> Path:
    """Frames (RGB uint8, all one size; at least one) as an H.264 ``.mp4`` with ``audio``
    re-encoded to AAC."""
    frames = iter(frames)
    first = next(frames)
    with VideoWriter(path, (first.shape[1], first.shape[0]), fps, audio) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    return Path(path)


def count_frames(path: Path) -> int:
    """Frames in a video, by decoding it (slow; for tests and checks)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]
