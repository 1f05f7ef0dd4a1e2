"""Synthetic masks: placement from landmarks, exact binary masks, variants, colour, texture."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_prepare import astronaut

from faces.crop import Region
from faces.detect import PREPARE, find_faces
from prepare.mask_canvas import Canvas
from prepare.masks import (
    MASK_TYPES,
    TEXTURES,
    MaskFitError,
    MaskStyle,
    draw_mask,
    head_turn,
    key_points,
    parse_color,
    variant_for,
)

SIZE = 256


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's face crop at 256 px and its 68 landmarks in crop pixels."""
    image = astronaut()
    found = find_faces(image, PREPARE)
    assert found, "dlib finds the astronaut's face"
    region = Region.around(found[0])
    return region.cut(image, SIZE), region.to_cut(found[0].landmarks, SIZE)


def luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64) @ [0.299, 0.587, 0.114]


def at(mask: np.ndarray, point: np.ndarray) -> bool:
    return bool(mask[int(round(point[1])), int(round(point[0]))])


def test_key_points_sit_where_the_mask_goes(face):
    _, lm = face
    a, b, c, d, e, f = key_points(lm)
    assert a[0] < b[0] < c[0] and f[0] < e[0] < d[0]
    assert b[1] < a[1] < f[1] < e[1] and b[1] < c[1] < d[1] < e[1]
    assert np.allclose(b, lm[28]) and np.allclose(e, lm[8])


@pytest.mark.parametrize("kind", MASK_TYPES)
def test_each_type_paints_exactly_its_mask_over_nose_and_mouth(face, kind):
    image, lm = face
    before = image.copy()
    drawn = draw_mask(image, lm, MaskStyle(kind), np.random.default_rng(0))
    assert np.array_equal(image, before), "the input image is not modified"
    changed = np.any(drawn.image != image, axis=2)
    assert not changed[~drawn.mask].any(), "pixels outside the binary mask are untouched"
    assert changed[drawn.mask].mean() > 0.95, "pixels inside the binary mask were painted"
    for i in (33, 48, 54):  # nose tip, mouth corners
        assert at(drawn.mask, lm[i]), f"{kind} mask misses landmark {i}"
    assert not any(at(drawn.mask, p) for p in lm[36:48]), f"{kind} mask covers an eye"
    # From the nose bridge to the chin along the face's middle column.
    column = drawn.mask[:, int(round(lm[30, 0]))]
    rows = np.nonzero(column)[0]
    face_height = lm[8, 1] - lm[27, 1]
    assert rows.min() < lm[29, 1], f"{kind} mask starts below the nose bridge"
    assert rows.max() > lm[8, 1] - 0.05 * face_height, f"{kind} mask stops above the chin"
    # Cheek to cheek at mouth height.
    kp = key_points(lm)
    row = drawn.mask[int(round((lm[48, 1] + lm[54, 1]) / 2))]
    inside = row[int(kp[5, 0]):int(kp[3, 0])]
    assert inside.mean() > 0.9, f"{kind} mask does not reach the cheeks ({inside.mean():.2f})"


def test_same_seed_same_mask_and_options_change_it(face):
    image, lm = face
    one = draw_mask(image, lm, MaskStyle("cloth"), np.random.default_rng(3))
    two = draw_mask(image, lm, MaskStyle("cloth"), np.random.default_rng(3))
    assert np.array_equal(one.image, two.image) and np.array_equal(one.mask, two.mask)
    red = draw_mask(image, lm, MaskStyle("surgical", color=(200, 30, 30)), np.random.default_rng(0))
    r, g, b = np.median(red.image[red.mask], axis=0)
    assert r > g + 60 and r > b + 60, "--color sets the mask colour"


@pytest.mark.parametrize("texture", TEXTURES)
def test_textures_print_a_pattern(face, texture):
    image, lm = face
    plain = draw_mask(image, lm, MaskStyle("surgical"), np.random.default_rng(0))
    printed = draw_mask(image, lm, MaskStyle("surgical", texture=texture), np.random.default_rng(0))
    assert np.array_equal(plain.mask, printed.mask), "a texture changes colours, not the shape"
    assert luma(printed.image[printed.mask]).std() > 1.5 * luma(plain.image[plain.mask]).std()


def test_mask_brightness_follows_the_face(face):
    image, lm = face
    dim = (image * 0.4).astype(np.uint8)
    bright = draw_mask(image, lm, MaskStyle("KN95"), np.random.default_rng(0))
    dark = draw_mask(dim, lm, MaskStyle("KN95"), np.random.default_rng(0))
    assert luma(dark.image[dark.mask]).mean() < 0.8 * luma(bright.image[bright.mask]).mean()


def test_turn_is_mirror_symmetric_and_picks_the_variant(face):
    image, lm = face
    mirrored = find_faces(np.ascontiguousarray(image[:, ::-1]), PREPARE)[0].landmarks
    assert head_turn(lm) + head_turn(mirrored) == pytest.approx(1.0, abs=0.04)
    assert variant_for(0.2) == "left" and variant_for(0.5) == "front" and variant_for(0.8) == "right"


def test_far_side_ear_loop_is_hidden(face):
    image, lm = face
    kp = key_points(lm)
    margin = 0.06 * np.ptp(kp[:, 0])  # beyond the cheeks: only ear loops reach there
    left_of_face = np.zeros(image.shape[:2], bool)
    left_of_face[:, : int(kp[:, 0].min() - margin)] = True
    right_of_face = np.zeros(image.shape[:2], bool)
    right_of_face[:, int(kp[:, 0].max() + margin):] = True
    front = draw_mask(image, lm, MaskStyle("surgical"), np.random.default_rng(0), variant="front")
    left = draw_mask(image, lm, MaskStyle("surgical"), np.random.default_rng(0), variant="left")
    assert (front.mask & left_of_face).sum() > 10 and (front.mask & right_of_face).sum() > 10
    assert (left.mask & left_of_face).sum() == 0, "the loop on the turned-away side is not drawn"
    assert (left.mask & right_of_face).sum() > 10


def test_turned_template_keeps_cheeks_and_moves_the_centre_line():
    canvas = Canvas.create(20, far_side=-1, center=-0.4)
    moved = canvas.to_template(np.array([[-1.0, 0.2], [0.0, 0.5], [1.0, 0.2], [0.5, 0.0]]))
    assert np.allclose(moved[:, 0], [-1.0, -0.4, 1.0, 0.3])
    assert canvas.u.min() < -1.5 and canvas.u.max() > 1.0


def test_parse_color():
    assert parse_color("#7ab0de") == (122, 176, 222) and parse_color("FFFFFF") == (255, 255, 255)
    with pytest.raises(ValueError, match="6 hex digits"):
        parse_color("blue")


def test_impossible_landmarks_raise_mask_fit_error(face):
    image, lm = face
    collapsed = np.repeat(lm[:1], 68, axis=0)
    crossed = lm.copy()
    crossed[0:9, 0] = lm[16:7:-1, 0] + 0.8 * SIZE  # one jaw side thrown far past the other
    for bad in (collapsed, crossed):
        with pytest.raises(MaskFitError):
            draw_mask(image, bad, MaskStyle("surgical"), np.random.default_rng(0))
