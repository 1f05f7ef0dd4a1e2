"""A prepared video dataset's frames with their audio windows (the proposed model's conditioning).

A video dataset root (``python3 -m prepare video``) holds the soundtrack as
``ROOT/audio/TRACK.wav`` and the frame times as ``ROOT/frames.csv`` (``name,timestamp_seconds``);
the features themselves are ``core.audio``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from core.audio import AudioError, AudioSettings, SoundTrack
from datasets.layout import FRAMES_CSV, DatasetError, read_frames_csv

PREPARE_HINT = ("prepare a video dataset with 'python3 -m prepare video --video FILE "
                "--out ROOT', or train without audio (audio=none)")


class FrameAudio:
    """The audio windows of a prepared video dataset's frames, by frame name.

    ``FrameAudio.from_root(root, settings)`` reads ``root/audio/*.wav`` (exactly one
    track) and ``root/frames.csv``; ``window(name)`` is ``(n_mels, W)``.
    """

    def __init__(self, track: SoundTrack, timestamps: dict[str, float]) -> None:
        self.track = track
        self.timestamps = timestamps

    @classmethod
    def from_root(cls, root: str | Path, settings: AudioSettings) -> FrameAudio:
        """Raises ``DatasetError`` (one line) when the root has no usable soundtrack."""
        root = Path(root)
        tracks = sorted((root / "audio").glob("*.wav")) if (root / "audio").is_dir() else []
        frames_csv = root / FRAMES_CSV
        if not tracks or not frames_csv.is_file():
            missing = " and ".join(p for p, ok in (("audio/*.wav", bool(tracks)),
                                                   ("frames.csv", frames_csv.is_file())) if not ok)
            raise DatasetError(f"audio conditioning needs a video dataset, but {root} has no "
                               f"{missing}: {PREPARE_HINT}")
        if len(tracks) > 1:
            raise DatasetError(f"{root / 'audio'} holds {len(tracks)} soundtracks; a video dataset "
                               "root holds one video (prepare each video into its own root)")
        try:
            track = SoundTrack.from_wav(tracks[0], settings)
        except AudioError as err:
            raise DatasetError(str(err)) from None
        return cls(track, dict(read_frames_csv(frames_csv)))

    def require(self, names: Sequence[str], root: str | Path) -> None:
        """DatasetError unless every frame in ``names`` has a timestamp."""
        missing = [n for n in names if n not in self.timestamps]
        if missing:
            first = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise DatasetError(f"{len(missing)} frame(s) of {root} have no timestamp in "
                               f"frames.csv ({first})")

    def window(self, name: str) -> torch.Tensor:
        """``(n_mels, W)`` features centred on frame ``name``'s time."""
        return self.track.windows([self.timestamps[name]])[0]

    def windows(self, names: Sequence[str]) -> torch.Tensor:
        """``(N, n_mels, W)`` for several frames at once."""
        return self.track.windows([self.timestamps[n] for n in names])
