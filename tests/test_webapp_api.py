"""The app's API for scripts (``/unmask``, ``/unmask_video``), called through ``gradio_client``
on the real app (``python3 app.py``) serving tiny models trained here (``webapp_models``):
the segmenter has learnt the astronaut's masks, the generator has barely begun."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers_webapp import rss_mb, start_app, stop_app
from webapp_models import train_tiny_models

from core.images import load_image, load_mask, write_image
from core.media import probe
from demos.scenes import masked_astronaut
from helpers_infer import make_video, one_torch_thread, png_bomb  # noqa: F401 (autouse fixture)

gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return train_tiny_models(tmp_path_factory.mktemp("webapp_models"))


@pytest.fixture(scope="module")
def server(weights, tmp_path_factory):
    started = start_app(weights, tmp_path_factory.mktemp("app"))
    yield started
    stop_app(started)


@pytest.fixture(scope="module")
def client(server):
    return gradio_client.Client(server["url"], verbose=False)


def astronaut_file(folder, kind: str = "surgical", seed: int = 0) -> dict:
    face = masked_astronaut(256, kind, seed)
    path = folder / f"astronaut_{kind}{seed}.png"
    write_image(path, face["masked"])
    return {"path": path, **face}


def unmask(client, photo, mask=None, threshold=0.5, dilation=3):
    """``/unmask`` -> (result ``(H,W,3)`` uint8, mask ``(H,W)`` bool, faces found)."""
    handle = gradio_client.handle_file
    result, used, faces = client.predict(handle(str(photo)), None if mask is None else handle(str(mask)),
                                         threshold, dilation, api_name="/unmask")
    return load_image(result), load_mask(used), faces


def test_the_api_names_its_two_endpoints_and_hides_the_pages(client):
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/unmask", "/unmask_video"} <= set(named)
    labels = [p["label"] for p in named["/unmask"]["parameters"]]
    assert labels[:2] == ["photo", "mask (optional; white = paint)"]
    assert "/on_upload" not in named and "/on_reconstruct" not in named, "the page's events are not the API"


def test_unmask_finds_the_mask_and_paints_inside_it_only(client, tmp_path):
    photo = astronaut_file(tmp_path)
    result, mask, faces = unmask(client, photo["path"])
    masked = photo["masked"]
    assert result.shape == masked.shape and mask.shape == masked.shape[:2]
    dice = 2 * (mask & photo["mask"]).sum() / (mask.sum() + photo["mask"].sum())
    assert dice > 0.7, f"the mask is the segmenter's (Dice {dice:.2f} with the true one)"
    assert np.array_equal(result[~mask], masked[~mask]), "outside the mask the photo is untouched"
    inside = np.abs(result[mask].astype(int) - masked[mask].astype(int)).mean()
    assert inside > 10, f"inside the mask the face is painted (mean change {inside:.1f})"
    assert isinstance(faces, (int, float)) and faces >= 0


def test_unmask_with_a_given_mask_paints_there_and_returns_it(client, tmp_path):
    photo = astronaut_file(tmp_path)
    given = np.zeros((256, 256), bool)
    given[150:210, 60:140] = True  # not the mask the segmenter would find: a patch of its own
    write_image(tmp_path / "mine.png", given.astype(np.uint8) * 255)
    result, mask, _ = unmask(client, photo["path"], tmp_path / "mine.png", None, None)  # as docs/app.md
    assert np.array_equal(mask, given), "the mask returned is the one given"
    masked = photo["masked"]
    assert np.array_equal(result[~given], masked[~given]), "outside the given mask the photo is untouched"
    assert np.abs(result[given].astype(int) - masked[given].astype(int)).mean() > 10


def test_an_image_bomb_is_refused_in_one_line_and_the_next_photo_served(server, client, tmp_path):
    bomb = png_bomb(tmp_path / "bomb.png", 60000, 60000)  # about 11 GB once decoded
    assert bomb.stat().st_size < 1_000_000
    pid = server["proc"].pid
    before = rss_mb(pid)
    with pytest.raises(gradio_client.exceptions.AppError) as refused:
        unmask(client, bomb)
    grown = rss_mb(pid) - before
    said = str(refused.value)
    print(f"app memory: {before:.0f} MB before the bomb, +{grown:.1f} MB after; said: {said}")
    assert said.startswith("error: bomb.png: 60000x60000 is 3600 megapixels") and "\n" not in said, said
    assert str(tmp_path) not in said and "/gradio/" not in said, "the upload is named, not its path"
    assert grown < 100, f"memory grew {grown:.0f} MB reading the bomb's header"
    photo = astronaut_file(tmp_path)
    result, mask, _ = unmask(client, photo["path"])
    assert mask.any() and np.array_equal(result[~mask], photo["masked"][~mask])


def test_unmask_video_gives_back_the_video_with_its_sound(client, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=6, size=(96, 96))
    out = client.predict(gradio_client.handle_file(str(clip)), api_name="/unmask_video")
    info = probe(out)
    assert out.endswith(".mp4") and info.has_audio and abs(info.duration - 0.6) < 0.15
    with pytest.raises(gradio_client.exceptions.AppError, match="^error: notes.txt: not a video"):
        (tmp_path / "notes.txt").write_text("not a video")
        client.predict(gradio_client.handle_file(str(tmp_path / "notes.txt")), api_name="/unmask_video")


def burst(url: str, photos: list[dict], pid: int) -> tuple[dict, float]:
    """Four threads, each its own client calling ``/unmask`` three times on its own photo; their
    answers by photo index and the app's peak memory (MB) meanwhile."""
    got, peak = {}, []

    def call(k: int) -> None:
        client = gradio_client.Client(url, verbose=False)
        got[k] = [unmask(client, photos[k]["path"])[:2] for _ in range(3)]

    threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak.append(rss_mb(pid))
        threads[0].join(0.1)
    for thread in threads:
        thread.join()
    assert sorted(got) == [0, 1, 2, 3], "every client got its answers"
    return got, max(peak)


def test_four_clients_at_once_each_get_their_own_result_and_sigterm_cleans_up(weights, tmp_path):
    """Four threads call ``/unmask`` together, each with its own photo (a different mask on the
    astronaut): each gets the pixels that photo gave alone, the app's memory stays bounded,
    and after SIGTERM its temporary folder is gone."""
    server = start_app(weights, tmp_path)
    try:
        photos = [astronaut_file(tmp_path, kind, seed) for kind, seed in
                  (("surgical", 0), ("cloth", 1), ("N95", 2), ("KN95", 0))]
        alone = [unmask(gradio_client.Client(server["url"], verbose=False), p["path"])[:2] for p in photos]
        pid = server["proc"].pid
        before = rss_mb(pid)
        first, peak_first = burst(server["url"], photos, pid)
        settled = rss_mb(pid)
        got, peak_second = burst(server["url"], photos, pid)  # the same again: nothing may pile up
        after = rss_mb(pid)
        print(f"app memory: {before:.0f} MB before; 4 clients x 3 calls: peak {peak_first:.0f} MB, then "
              f"{settled:.0f} MB; the same again: peak {peak_second:.0f} MB, then {after:.0f} MB")
        for k in range(4):
            for result, mask in first[k] + got[k]:
                assert np.array_equal(mask, alone[k][1]) and np.array_equal(result, alone[k][0]), \
                    f"client {k} got another photo's result"
        assert not np.array_equal(alone[0][1], alone[1][1]), "the photos' masks differ, so a mix-up shows"
        assert peak_first - before < 250, f"memory grew {peak_first - before:.0f} MB serving four clients"
        assert after - settled < 20 and peak_second - peak_first < 20, "a second round piled up memory"
    finally:
        stop_app(server)
