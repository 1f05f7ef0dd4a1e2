"""The web app (``python3 app.py``): its handlers directly, then the page in a real headless
Chromium (Debian's ``chromium``, driven by Playwright's client; no browser download).

The models are tiny ones trained here on the astronaut wearing our masks (``webapp_models``):
the segmenter has learnt to find the masks, the generator has barely begun, which is all the
page's checks need (pixels outside the mask kept, inside changed, the brush's edit used).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers_webapp import rss_mb, start_app, stop_app
from webapp_models import train_tiny_models

from configs import Config
from core.images import ImageReadError, load_image, load_mask, write_image
from core.media import probe
from demos.scenes import masked_astronaut
from faces.track import FaceFinder
from helpers_infer import ONE_THREAD_ENV, make_video, one_torch_thread, png_bomb  # noqa: F401 (autouse fixture)
from inference.errors import USER_ERRORS
from inference.pipeline import MaskReconstructor
from inference.runner import Options, run
from inference.settings import ReconstructorSettings
from modelfiles.load import load_model
from stages import RECONSTRUCTION, SEGMENTATION
from webapp import App, Workspace

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("webapp_models"))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> dict:
    """The masked astronaut's face as a PNG file, with its true mask."""
    face = masked_astronaut(256)
    path = tmp_path_factory.mktemp("photo") / "astronaut_masked.png"
    write_image(path, face["masked"])
    return {"path": path, **face}


@pytest.fixture
def app(weights, tmp_path):
    cfg = Config.from_dict({"device": "cpu", "dilate_kernel": 3, "batch_size": 4})
    segm = load_model(cfg, SEGMENTATION, weights[0]).model
    recon = load_model(cfg, RECONSTRUCTION, weights[1]).model
    rec = MaskReconstructor(segm, recon, ReconstructorSettings(64, dilate_kernel=3), faces=FaceFinder("auto"))
    workspace = Workspace()
    yield App(rec, cfg, workspace)
    workspace.remove()


def test_sliders_and_brush_reuse_the_segmenter_output(app, photo, tmp_path):
    calls = {"segm": 0, "gen": 0}
    app.rec.segmenter.register_forward_hook(lambda *_: calls.__setitem__("segm", calls["segm"] + 1))
    app.rec.generator.register_forward_hook(lambda *_: calls.__setitem__("gen", calls["gen"] + 1))
    opened = app.open(photo["path"], tmp_path, 0.5, 3)
    assert calls == {"segm": 1, "gen": 0}
    mask = opened.state.mask
    dice = 2 * (mask & photo["mask"]).sum() / (mask.sum() + photo["mask"].sum())
    assert dice > 0.7, f"the tiny segmenter should have learnt the mask (Dice {dice:.2f})"
    looser = app.current_mask(opened.state, 0.2, 3)
    assert looser.sum() > mask.sum()  # a lower threshold takes in more pixels
    wider = app.current_mask(opened.state, 0.5, 9)
    assert wider.sum() > mask.sum()
    ys, xs = np.nonzero(photo["mask"])
    cx, cy = float(xs.mean()), float(ys.mean())
    app.brush(opened.state, cx, cy, 15, False, 0.5, 3)
    assert not opened.state.mask[int(cy) - 10:int(cy) + 10, int(cx) - 10:int(cx) + 10].any()
    assert calls == {"segm": 1, "gen": 0}, "threshold, dilation and brush must not re-run a model"
    result, image_path, mask_path = app.reconstruct(opened.state, tmp_path)
    assert calls == {"segm": 1, "gen": 1}
    assert np.array_equal(load_mask(mask_path), opened.state.mask)
    kept = ~opened.state.mask
    assert np.array_equal(load_image(image_path)[kept], photo["masked"][kept])


# 63: a photo just under the model's side, where a mask's round trip (up to the photo, down to
# the model's side) changes some pixels: the app must give the generator infer.py's own mask.
@pytest.mark.parametrize("side", [256, 63])
def test_the_app_gives_infer_pys_pixels(app, side, tmp_path):
    """The same photo and mask through infer.py's run and through the page's handlers: the same
    pixels, the seam's feathering included."""
    photo = tmp_path / "astronaut_masked.png"
    write_image(photo, masked_astronaut(side)["masked"])
    settings = app.rec.settings
    options = Options(photo, tmp_path / "infer", comparison=False, ext="png", save_masks=True)
    run(app.cfg, options, app.rec, out=io.StringIO())
    (written,) = (tmp_path / "infer").glob("results2_*.png")
    theirs, their_mask = load_image(written), load_mask(next((tmp_path / "infer" / "masks").glob("*.png")))
    opened = app.open(photo, tmp_path / "app", settings.threshold, settings.dilate_kernel)
    assert np.array_equal(opened.state.mask, their_mask)
    ours, _, _ = app.reconstruct(opened.state, tmp_path / "app")
    assert np.array_equal(ours, theirs)


def test_the_apps_seam_is_feathered_as_infer_pys_brushed_or_not(app, photo, tmp_path):
    settings = app.rec.settings
    (theirs,) = app.rec([photo["masked"]])
    hard_edge = app.rec([photo["masked"]], feather=0)[0].image
    assert not np.array_equal(theirs.image, hard_edge), "infer.py feathers the seam"
    opened = app.open(photo["path"], tmp_path, settings.threshold, settings.dilate_kernel)
    assert np.array_equal(app.reconstruct(opened.state, tmp_path)[0], theirs.image)
    ys, xs = np.nonzero(opened.state.mask)
    app.brush(opened.state, float(xs.mean()), float(ys.mean()), 12, False, settings.threshold,
              settings.dilate_kernel)
    brushed = app.reconstruct(opened.state, tmp_path)[0]
    app.rec.settings = dataclasses.replace(settings, feather=0)
    brushed_hard = app.reconstruct(opened.state, tmp_path)[0]
    blended = np.any(brushed != brushed_hard, axis=2)
    assert blended.any() and not blended[~opened.state.mask].any(), "feathered inside the mask only"


def test_a_photo_without_a_mask_says_so_and_the_brush_adds_one(app, tmp_path):
    grey = tmp_path / "grey.png"
    write_image(grey, np.full((120, 160, 3), 128, np.uint8))
    opened = app.open(grey, tmp_path, 0.5, 3)
    assert "no mask found" in opened.message and not opened.state.mask.any()
    app.brush(opened.state, 80, 60, 20, True, 0.5, 3)
    result, _, _ = app.reconstruct(opened.state, tmp_path)
    changed = np.abs(result.astype(int) - 128).max(2) > 0
    assert changed[60, 80] and not changed[5, 5]


def test_bad_uploads_are_refused_in_one_line(app, tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video either")
    for name, says in (("notes.txt", "not a photo or a video"), ("broken.png", "broken.png"),
                       ("empty.mp4", "empty.mp4"), ("text.mp4", "text.mp4"), ("gone.png", "did not arrive")):
        with pytest.raises(USER_ERRORS, match=re.escape(says)) as err:
            app.open(tmp_path / name, tmp_path / "session", 0.5, 3)
        assert "\n" not in str(err.value)
    # A 60000 x 60000 PNG bomb (about 11 GB decoded) and an 8x8 image: refused, memory kept.
    png_bomb(tmp_path / "bomb.png", 60000, 60000)
    write_image(tmp_path / "tiny.png", np.full((8, 8, 3), 128, np.uint8))
    before = rss_mb(os.getpid())
    for name, says in (("bomb.png", "more than max_pixels=40000000"), ("tiny.png", "8x8 is too small")):
        with pytest.raises(USER_ERRORS, match=re.escape(says)):
            app.open(tmp_path / name, tmp_path / "session", 0.5, 3)
    assert rss_mb(os.getpid()) - before < 100
    import webapp.handlers

    monkeypatch.setattr(webapp.handlers, "MAX_UPLOAD_MB", 0.001)
    big = tmp_path / "big.png"
    write_image(big, np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    with pytest.raises(USER_ERRORS, match="larger than"):
        app.open(big, tmp_path / "session", 0.5, 3)


def test_an_error_names_the_upload_not_where_the_page_keeps_it(tmp_path):
    from webapp.handlers import failed

    kept = tmp_path / "gradio" / "54d6" / "truncated.jpg"
    line = failed(ImageReadError(f"{kept}: truncated JPEG (no end-of-image marker)"), kept)
    assert line == "**error:** truncated.jpg: truncated JPEG (no end-of-image marker)"


def test_a_video_comes_back_reconstructed_with_its_sound(app, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=6, size=(96, 96))
    folder = tmp_path / "session"
    opened = app.open(clip, folder, 0.5, 3)
    assert opened.video and "6 frames reconstructed" in opened.message
    info = probe(opened.video)
    assert info.has_audio and abs(info.duration - 0.6) < 0.15
    assert not list((folder / "video").glob("*.png")), "the frames are dropped once the video is made"


def test_a_session_folder_goes_when_the_session_ends(app):
    folder = app.workspace.session("abc123")
    (folder / "x.png").write_bytes(b"x")
    app.workspace.end_session("abc123")
    assert not folder.exists()
    app.workspace.remove()
    assert not app.workspace.root.exists()


def test_a_mask_of_ones_own_replaces_the_segmenters(app, photo, tmp_path):
    calls = []
    app.rec.segmenter.register_forward_hook(lambda *_: calls.append(1))
    given = np.zeros(photo["masked"].shape[:2], bool)
    given[150:210, 60:140] = True
    write_image(tmp_path / "mine.png", given.astype(np.uint8) * 255)
    opened = app.open(photo["path"], tmp_path, 0.5, 3, mask=tmp_path / "mine.png")
    assert not calls, "with a mask given the segmenter is not run"
    assert "your mask" in opened.message and np.array_equal(opened.state.mask, given)
    ours, _, mask_path = app.reconstruct(opened.state, tmp_path)
    (theirs,) = app.rec([photo["masked"]], masks=[given])  # what infer.py --masks runs
    assert np.array_equal(ours, theirs.image) and np.array_equal(load_mask(mask_path), given)
    write_image(tmp_path / "wide.png", np.full((40, 200), 255, np.uint8))
    with pytest.raises(USER_ERRORS, match="does not match") as err:
        app.open(photo["path"], tmp_path, 0.5, 3, mask=tmp_path / "wide.png")
    assert "\n" not in str(err.value)


def test_undo_takes_back_a_stroke_and_redo_puts_it_back(app, photo, tmp_path):
    opened = app.open(photo["path"], tmp_path, 0.5, 3)
    state, found = opened.state, opened.state.mask.copy()
    ys, xs = np.nonzero(found)
    app.brush(state, float(xs.mean()), float(ys.mean()), 12, False, 0.5, 3)
    erased = state.mask.copy()
    assert erased.sum() < found.sum()
    app.undo(state, 0.5, 3)
    assert np.array_equal(state.mask, found) and not state.strokes
    app.undo(state, 0.5, 3)  # nothing left to undo: no change
    assert np.array_equal(state.mask, found)
    app.redo(state, 0.5, 3)
    assert np.array_equal(state.mask, erased)
    app.undo(state, 0.5, 3)
    app.brush(state, 10, 10, 5, True, 0.5, 3)  # a new stroke: the undone one cannot come back
    app.redo(state, 0.5, 3)
    assert len(state.strokes) == 1 and state.mask[10, 10]
    assert state.mask[found].all(), "the erasure undone stays undone"


def test_several_photos_make_a_gallery_and_one_zip(app, photo, tmp_path):
    import zipfile

    from webapp.batches import run_batch

    second = tmp_path / "astronaut_masked.png"  # the same name as the first: both kept
    write_image(second, masked_astronaut(200, "cloth", 1)["masked"])
    (tmp_path / "notes.txt").write_text("not a photo")
    done = run_batch(app, [photo["path"], second, tmp_path / "notes.txt"], tmp_path / "session", 0.5, 3)
    assert done.message.startswith("2 of 3 photo(s) reconstructed")
    assert "**error:** notes.txt: not a photo" in done.message
    assert [caption for _, caption in done.gallery] == ["astronaut_masked.png"] * 2
    with zipfile.ZipFile(done.archive) as zipped:
        assert sorted(zipped.namelist()) == [f"astronaut_masked{k}_{kind}.png" for k in ("_2", "")
                                             for kind in ("mask", "reconstructed")]
        zipped.extractall(tmp_path / "unzipped")
    for name, path in (("astronaut_masked", photo["path"]), ("astronaut_masked_2", second)):
        alone = app.unmask(path, 0.5, 3)
        assert np.array_equal(load_image(tmp_path / "unzipped" / f"{name}_reconstructed.png"), alone.image)
        assert np.array_equal(load_mask(tmp_path / "unzipped" / f"{name}_mask.png"), alone.mask)


# -- in the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(weights, tmp_path_factory):
    """``python3 app.py`` on a free loopback port with the tiny models; its URL, process and
    temporary folder. Stopped with SIGTERM at the end, as a user's ``kill`` would."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (Debian: apt-get install chromium); the browser tests need it")
    pytest.importorskip("playwright.sync_api", reason="playwright's Python client is not installed")
    before = set(os.listdir(tempfile.gettempdir()))
    server = start_app(weights, tmp_path_factory.mktemp("app"))
    yield {**server, "loaded": server["log"].read_text().splitlines()[0]}
    stop_app(server)
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before
            if not n.startswith(("pytest-", "playwright"))}
    assert not {n for n in left if "gradio" in n or "facemask" in n}, f"left behind: {left}"


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        yield chromium
        chromium.close()


def upload(page, path: Path, expect_text: str) -> str:
    from playwright.sync_api import expect

    page.set_input_files("#upload input[type=file]", str(path))
    expect(page.locator("#status")).to_contain_text(expect_text, timeout=120_000)
    return page.locator("#status").inner_text()


def download(page, button: str, to: Path) -> Path:
    with page.expect_download(timeout=60_000) as info:
        page.click(button)
    info.value.save_as(to)
    return to


def reconstruct(page, strokes: int) -> None:
    """Click Reconstruct and wait for the result made with ``strokes`` brush strokes (while it
    runs, the status shows Gradio's progress over the previous text)."""
    from playwright.sync_api import expect

    status = page.locator("#status")
    page.click("#reconstruct")
    said = f"{strokes} brush stroke{'s' * (strokes != 1)})"
    expect(status).to_contain_text(said, timeout=120_000)
    expect(status).not_to_contain_text("processing", timeout=120_000)


def test_the_page_reconstructs_an_upload_and_uses_the_brush(server, browser, photo, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 1000}, accept_downloads=True)
    page.goto(server["url"])
    page.wait_for_selector("#upload input[type=file]", state="attached")
    assert "loaded segmentation" in page.locator("body").inner_text()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    said = upload(page, notes, "error")
    assert "not a photo or a video" in said
    assert str(server["workspace"]) not in said and "/gradio/" not in said, said  # the name, not the path
    said = upload(page, photo["path"], photo["path"].name)  # the page keeps serving after an error
    assert "mask" in said and "error" not in said

    reconstruct(page, strokes=0)
    result = load_image(download(page, "#download-image", tmp_path / "result.png"))
    mask = load_mask(download(page, "#download-mask", tmp_path / "mask.png"))
    masked = photo["masked"]
    assert result.shape == masked.shape and mask.shape == masked.shape[:2]
    dice = 2 * (mask & photo["mask"]).sum() / (mask.sum() + photo["mask"].sum())
    assert dice > 0.7, f"the page's mask should be the segmenter's (Dice {dice:.2f} with the true one)"
    assert np.array_equal(result[~mask], masked[~mask]), "outside the mask the photo is untouched"
    inside = np.abs(result[mask].astype(int) - masked[mask].astype(int)).mean()
    assert inside > 10, f"inside the mask the face is painted (mean change {inside:.1f})"

    # Erase a disc from the middle of the mask with the brush (12 px, the default size).
    ys, xs = np.nonzero(mask)
    cx, cy = int(xs.mean()), int(ys.mean())
    assert mask[cy - 8:cy + 8, cx - 8:cx + 8].all()
    picture = page.locator("#marked img")
    box = picture.bounding_box()
    natural_w, natural_h = picture.evaluate("e => [e.naturalWidth, e.naturalHeight]")
    drawn = picture.get_attribute("src")
    page.mouse.click(box["x"] + (cx + 0.5) * box["width"] / natural_w,
                     box["y"] + (cy + 0.5) * box["height"] / natural_h)
    expect(picture).not_to_have_attribute("src", drawn, timeout=60_000)  # the mask redrawn
    reconstruct(page, strokes=1)
    erased = load_mask(download(page, "#download-mask", tmp_path / "mask_erased.png"))
    assert not erased[cy - 8:cy + 8, cx - 8:cx + 8].any(), "the brush's erasure is in the mask used"
    assert 0.6 * np.pi * 12 ** 2 < mask.sum() - erased.sum() < 1.4 * np.pi * 12 ** 2
    assert np.array_equal(erased, mask & erased), "erasing only removes pixels"
    after = load_image(download(page, "#download-image", tmp_path / "result_erased.png"))
    assert np.array_equal(after[~erased], masked[~erased])

    # Undo takes the stroke back: the mask used is the segmenter's again.
    drawn = picture.get_attribute("src")
    page.click("#undo")
    expect(picture).not_to_have_attribute("src", drawn, timeout=60_000)
    reconstruct(page, strokes=0)
    undone = load_mask(download(page, "#download-mask", tmp_path / "mask_undone.png"))
    assert np.array_equal(undone, mask), "after undo the mask is the one before the stroke"

    # Zoom draws the photo twice as wide, in a box that scrolls.
    width = picture.evaluate("e => e.getBoundingClientRect().width")
    page.fill("#zoom input[type=number]", "200")
    page.press("#zoom input[type=number]", "Enter")
    wider = "w => document.querySelector('#marked img').getBoundingClientRect().width > 1.8 * w"
    page.wait_for_function(wider, arg=width, timeout=30_000)
    assert picture.evaluate("e => getComputedStyle(e.parentElement).overflow") == "auto"

    page.close()


def test_two_photos_dropped_at_once_come_back_as_a_gallery_and_a_zip(server, browser, photo, tmp_path):
    import zipfile

    from playwright.sync_api import expect

    page = browser.new_page(accept_downloads=True)
    page.goto(server["url"])
    page.wait_for_selector("#batch-upload input[type=file]", state="attached")
    second = tmp_path / "second.png"
    write_image(second, masked_astronaut(200, "cloth", 1)["masked"])
    page.set_input_files("#batch-upload input[type=file]", [str(photo["path"]), str(second)])
    expect(page.locator("#batch-status")).to_contain_text("2 of 2 photo(s) reconstructed", timeout=120_000)
    expect(page.locator("#gallery img")).to_have_count(2, timeout=60_000)
    archive = download(page, "#batch-zip", tmp_path / "all.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        zipped.extractall(tmp_path / "unzipped")
    assert names == [f"{stem}_{kind}.png" for stem in ("astronaut_masked", "second")
                     for kind in ("mask", "reconstructed")]
    result = load_image(tmp_path / "unzipped" / "second_reconstructed.png")
    mask = load_mask(tmp_path / "unzipped" / "second_mask.png")
    original = load_image(second)
    assert mask.any() and np.array_equal(result[~mask], original[~mask])
    page.close()


def test_only_the_apps_own_files_are_served(server):
    for path in (REPO / "README.md", Path("/etc/hostname")):
        url = f"{server['url']}gradio_api/file={path}"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert err.value.code in (403, 404)


def test_twenty_uploads_in_a_row_hold_memory_and_disk(server, browser, photo, tmp_path):
    page = browser.new_page(accept_downloads=True)
    page.goto(server["url"])
    page.wait_for_selector("#upload input[type=file]", state="attached")
    pid = server["proc"].pid
    sizes = []
    for k in range(20):
        copy = tmp_path / f"upload{k:02d}.png"
        shutil.copyfile(photo["path"], copy)
        upload(page, copy, copy.name)
        if k in (0, 19):
            reconstruct(page, strokes=0)
            download(page, "#download-image", tmp_path / f"result{k}.png")
        sizes.append(rss_mb(pid))
    growth = sizes[-1] - sizes[0]
    print(f"app memory after upload 1: {sizes[0]:.0f} MB, after 20: {sizes[-1]:.0f} MB (+{growth:.0f})")
    assert growth < 100, f"memory grew {growth:.0f} MB over 20 uploads"
    sessions = server["workspace"] / "sessions"
    ours = [p for p in sessions.rglob("*") if p.is_file()]
    assert len(ours) <= 4, f"a session keeps only its latest result and mask: {ours}"
    page.close()
    deadline = time.monotonic() + 30
    while any(sessions.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(sessions.iterdir()), "closing the page removes its session's files"
