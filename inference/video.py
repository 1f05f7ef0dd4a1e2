"""Video in and out through the ffmpeg binary shipped in imageio-ffmpeg, streamed.

One ffmpeg process decodes the input to raw RGB frames on a pipe, another encodes the
results from a pipe and muxes the original audio back, so each video is decoded once and
encoded once, and only one batch of frames is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from datasets.video import VideoError, VideoInfo, probe

__all__ = ["VideoError", "VideoInfo", "VideoReader", "VideoWriter", "count_frames", "is_video_file",
           "probe"]

VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
# Audio codecs an .mp4 holds as they are; anything else is re-encoded to AAC.
MP4_AUDIO = ("aac", "mp3", "alac")
CRF = "18"  # x264 quality: visually lossless, so the output shows the model, not the codec


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


class VideoReader:
    """Frames of a video as ``(H,W,3)`` uint8 RGB arrays, decoded once, on demand.

    The file is probed on construction, so one that is not a video (or has no picture)
    fails at once with a one-line ``VideoError``.
    """

    def __init__(self, path: Path) -> None:
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
    """Encode frames to H.264 ``.mp4`` at the source's fps, with the source's audio muxed in.

    Written to a temporary name and renamed on ``close``, so an interrupted run never
    leaves a truncated video under the final name.
    """

    def __init__(self, path: Path, source: VideoInfo) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        audio = source.audio_codec
        params = {}
        if audio:
            params = {"audio_path": str(source.path),
                      "audio_codec": "copy" if audio in MP4_AUDIO else "aac"}
        self._frames = imageio_ffmpeg.write_frames(
            str(self._tmp), source.size, fps=source.fps or 25.0, quality=None,
            macro_block_size=2, output_params=["-crf", CRF], ffmpeg_log_level="error", **params)
        self._frames.send(None)  # start ffmpeg
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        """One ``(H,W,3)`` uint8 RGB frame of the source's size."""
        self._frames.send(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> None:
        try:
            self._frames.close()
        except (OSError, RuntimeError) as err:
            raise VideoError(f"{self.path}: encoding failed ({str(err).strip()[:160]})") from None
        if self._tmp.exists():
            self._tmp.replace(self.path)

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file."""
        try:
            self._frames.close()
        except (OSError, RuntimeError):
            pass
        self._tmp.unlink(missing_ok=True)


def count_frames(path: Path) -> int:
    """Frames in a video, by decoding it (slow; for tests and checks)."""
    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]
