"""Audio conditioning at inference: each frame's audio features from the input's own soundtrack.

The features are the training ones (``core.audio``), computed with the settings the
audio encoder recorded in its checkpoint:

* a video file: its soundtrack, extracted once with ffmpeg to 16 kHz mono (as
  ``python3 -m prepare video`` does), decoded frame ``k`` at ``k / fps`` seconds;
* a prepared video dataset root: its ``audio/TRACK.wav`` and ``frames.csv``, by frame name.

Photos have no soundtrack, so an audio-conditioned generator refuses them (one line).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from core.audio import AudioError, AudioSettings, SoundTrack
from core.media import VideoError, VideoInfo, extract_audio
from datasets.audio import FrameAudio
from datasets.layout import DatasetError
from inference.inputs import FileSource, InputError, Item, Source, VideoSource

FrameFeatures = Callable[[Sequence[Item]], torch.Tensor]  # items -> (B, n_mels, W)


def video_soundtrack(info: VideoInfo, settings: AudioSettings) -> SoundTrack:
    """The soundtrack of a probed video file as a ``SoundTrack`` (InputError if it has none)."""
    if not info.has_audio:
        raise InputError(f"{info.path}: the video has no audio track, and this generator is "
                         "audio-conditioned (it paints the mouth from the speech)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "soundtrack.wav"
            extract_audio(info, wav)
            return SoundTrack.from_wav(wav, settings)
    except (VideoError, AudioError) as err:
        raise InputError(str(err)) from None


def frame_features(source: Source, settings: AudioSettings) -> FrameFeatures:
    """A function from a batch of the source's items to their audio windows
    ``(B, n_mels, W)``; the soundtrack is read and transformed here, once."""
    if isinstance(source, VideoSource):
        track = video_soundtrack(source.info, settings)

        def by_time(items: Sequence[Item]) -> torch.Tensor:
            if any(item.time is None for item in items):
                raise InputError(f"{source.path}: the video reports no frame rate, so its frames "
                                 "cannot be matched to its soundtrack")
            return track.windows([item.time for item in items])

        return by_time
    if isinstance(source, FileSource) and source.kind == "dataset":
        try:
            audio = FrameAudio.from_root(source.path, settings)
            audio.require([entry.name for entry in source.entries], source.path)
        except DatasetError as err:
            raise InputError(str(err)) from None
        return lambda items: audio.windows([item.name for item in items])
    raise InputError(f"{source.path}: this generator is audio-conditioned and needs a video "
                     "or a prepared video dataset root (audio/ + frames.csv), not "
                     f"{'a photo' if source.kind == 'image' else 'a folder of photos'}")
