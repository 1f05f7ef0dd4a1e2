"""Audio in the reconstruction dataset: alignment through the real video pipeline, errors,
decode-once caching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from synthetic import face_triplets

import core.audio
import core.wav
from core.audio import POWER_FLOOR, AudioSettings, mel_filterbank
from datasets.audio import FrameAudio
from datasets.layout import DatasetError
from datasets.reconstruction import ReconstructionDataset
from prepare.options import PrepareOptions
from prepare.run import prepare_video
from prepare.talking_clip import TONES_HZ, write_talking_dataset, write_talking_video

TONE_ORDER = [0, 1, 2, 0, 2, 1]  # one tone per second; neighbours always differ
SETTINGS = AudioSettings(window_s=1.0)


@pytest.fixture(scope="module")
def tone_video_root(tmp_path_factory):
    """A 6 s video whose tone changes every second, prepared at 1 fps by the real pipeline."""
    folder = tmp_path_factory.mktemp("tones")
    video = write_talking_video(folder / "tones.mp4", len(TONE_ORDER), fps=1, size=320,
                                classes=np.array(TONE_ORDER))
    root = folder / "root"
    prepare_video(video, root, fps=1, options=PrepareOptions(size=64, progress=False))
    return root


def tone_bands() -> list[int]:
    """The mel band where each of ``TONES_HZ`` is strongest."""
    bank = mel_filterbank(SETTINGS.n_fft, SETTINGS.n_mels, SETTINGS.sample_rate)
    bins = torch.linspace(0, SETTINGS.sample_rate / 2, SETTINGS.n_fft // 2 + 1)
    return [int(bank[:, int((bins - f).abs().argmin())].argmax()) for f in TONES_HZ]


def test_window_for_frame_k_holds_exactly_second_k_tone(tone_video_root):
    """Frame k (at k s) hears the tone centred on it, from the video's own soundtrack.

    The tone of second k plays over [k-1/2, k+1/2), so a 1 s window centred on frame k
    holds that tone alone. Checked in the spectrogram: every column whose analysis
    window lies inside the tone's second peaks in that tone's band, with the other tones
    more than 30 dB below. Frame 0's first half lies before the video: zero padding.
    """
    dataset = ReconstructionDataset(tone_video_root, 32, audio=SETTINGS)
    track = dataset.audio.track
    assert [dataset.audio.timestamps[s.name] for s in dataset.samples] == pytest.approx(
        list(range(len(TONE_ORDER))), abs=0.01)
    bands = tone_bands()
    edge = math.ceil(SETTINGS.n_fft / 2 / SETTINGS.hop)  # columns whose analysis crosses the window edge
    half = SETTINGS.columns // 2
    for k, sample in enumerate(dataset.samples):
        item = dataset[k]
        assert item["name"] == sample.name and item["audio"].shape == (SETTINGS.n_mels, SETTINGS.columns)
        log_mel = track.to_log_mel(item["audio"])
        inside = log_mel[:, (half if k == 0 else 0) + edge: SETTINGS.columns - edge]
        mine = bands[TONE_ORDER[k]]
        assert torch.all(inside.argmax(dim=0) == mine), (k, inside.argmax(dim=0))
        others = [b for i, b in enumerate(bands) if i != TONE_ORDER[k]]
        db_below = 10 / math.log(10) * (inside[mine] - inside[others].max(dim=0).values)
        assert float(db_below.min()) > 30, (k, float(db_below.min()))
    # Zero padding before the video starts: frame 0's columns ending before t=0 are silence.
    first = track.to_log_mel(dataset[0]["audio"])[:, : half - edge]
    assert torch.allclose(first, torch.full_like(first, math.log(POWER_FLOOR)), atol=1e-3)
    # A window half a second late would hold two tones: the check above can tell.
    late = track.to_log_mel(track.windows([1.5])[0])
    assert set(late[:, edge:-edge].argmax(dim=0).tolist()) == {bands[TONE_ORDER[1]], bands[TONE_ORDER[2]]}


def test_image_dataset_with_audio_fails_with_one_clear_line(tmp_path):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    with pytest.raises(DatasetError) as err:
        ReconstructionDataset(root, 32, audio=SETTINGS)
    message = str(err.value)
    assert "\n" not in message
    assert "audio/*.wav and frames.csv" in message and "python3 -m prepare video" in message
    assert "audio" not in ReconstructionDataset(root, 32)[0]  # without audio: no audio key


def test_frames_missing_from_frames_csv_are_refused(tmp_path):
    root = write_talking_dataset(tmp_path / "talk", 6, size=16)
    lines = (root / "frames.csv").read_text().splitlines()
    (root / "frames.csv").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(DatasetError, match=r"2 frame\(s\) .* no timestamp in frames.csv"):
        ReconstructionDataset(root, 16, audio=SETTINGS)


def test_audio_is_decoded_once_per_dataset(tmp_path, monkeypatch):
    root = write_talking_dataset(tmp_path / "talk", 10, size=16)
    calls = []
    real = core.wav.read_wav
    monkeypatch.setattr(core.audio, "read_wav", lambda path: (calls.append(path), real(path))[1])
    dataset = ReconstructionDataset(root, 16, audio=AudioSettings(window_s=0.2))
    items = [dataset[i] for i in range(len(dataset))] * 2
    assert len(calls) == 1
    # Each item's window is the same slice the vectorised call gives for all frames at once.
    together = dataset.audio.windows([s.name for s in dataset.samples])
    assert torch.equal(torch.stack([i["audio"] for i in items[: len(dataset)]]), together)


def test_dataset_root_with_two_soundtracks_is_refused(tmp_path):
    root = write_talking_dataset(tmp_path / "talk", 4, size=16)
    (root / "audio" / "second.wav").write_bytes((root / "audio" / "talk.wav").read_bytes())
    with pytest.raises(DatasetError, match="holds 2 soundtracks"):
        FrameAudio.from_root(root, SETTINGS)
