"""Pinhole renderer of a synthetic street side: layered planes (skyline, facades, kerb, cars) drawn with numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.synth_city import (
    AWNING,
    DOOR,
    GLASS,
    LETTER,
    LIT,
    PILASTERS,
    ROOF,
    SHOP,
    SIGN,
    SIGN_PALETTE,
    STRIPES,
    TRIM,
    Street,
)

CAMERA_HEIGHT_M = 1.6
FACADE_DISTANCE_M = 15.0  # nominal camera-to-facade distance: views look sideways at one street side
SKYLINE_DEPTH_M = 90.0  # the far layer lies this far behind the facades
KERB_SETBACK_M = 4.5  # trees and lamps stand this far in front of the facades
CAR_SETBACK_M = 6.5
HORIZON_ROW = 0.8  # horizon as a fraction of the height: the camera looks up, so rooflines show

Rays = tuple[np.ndarray, np.ndarray, float]  # rolled image coords u (H, W), v (H, W), focal length (px)


@dataclass
class Camera:
    """Where and how a view is taken: position along the street and pose jitter."""

    s: float  # position along the street (metres)
    distance: float = FACADE_DISTANCE_M
    zoom: float = 1.0
    roll: float = 0.0  # radians
    shift: float = 0.0  # horizontal principal-point shift, fraction of the width (a small yaw)
    pitch: float = 0.0  # horizon shift, fraction of the height


def render(
    street: Street, cam: Camera, size: tuple[int, int], night: bool, rng: np.random.Generator
) -> np.ndarray:
    """Render one view (H, W, 3) float32 in [0, 1]; `rng` draws the transient objects (cars, people)."""
    rays = _rays(cam, *size)
    img = np.empty((*size, 3), np.float32)
    covered = _paint_facades(img, street, cam, rays, night)
    below = rays[1] > 1e-3
    _paint_ground(img, street, cam, rays, below & ~covered, night)
    _paint_sky(img, street, cam, rays, ~below & ~covered, night)  # only where the facades leave gaps
    _paint_kerb(img, street, cam, rays, night)
    _paint_transients(img, cam, rays, night, rng)
    return np.clip(img, 0.0, 1.0, out=img)


def _rays(cam: Camera, height: int, width: int) -> Rays:
    """Per-pixel image-plane coordinates (u right, v down; rolled) and the focal length in pixels."""
    u = np.arange(width, dtype=np.float32) + 0.5 - width * (0.5 + cam.shift)
    v = np.arange(height, dtype=np.float32) + 0.5 - height * (HORIZON_ROW + cam.pitch)
    c, s = np.float32(np.cos(cam.roll)), np.float32(np.sin(cam.roll))
    ur = c * u[None, :] + s * v[:, None]  # (H, W)
    vr = c * v[:, None] - s * u[None, :]  # (H, W)
    return ur, vr, cam.zoom * width / 2.0  # 90 degree horizontal field of view at zoom 1


def _layer(cam: Camera, rays: Rays, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Along-street position x and height h (metres) seen by each pixel on a plane `depth` metres away."""
    ur, vr, f = rays
    k = np.float32(depth / f)
    return cam.s + ur * k, CAMERA_HEIGHT_M - vr * k


def _columns(x: np.ndarray, lo: float, hi: float) -> slice:
    """The columns whose along-street position falls in [lo, hi] on some row (x grows along each row)."""
    first, last = x[0], x[-1]
    c0 = min(np.searchsorted(first, lo), np.searchsorted(last, lo))
    c1 = max(np.searchsorted(first, hi, "right"), np.searchsorted(last, hi, "right"))
    return slice(int(c0), int(c1))


def _paint_sky(img: np.ndarray, st: Street, cam: Camera, rays: Rays, mask: np.ndarray, night: bool) -> None:
    """Sky gradient (brighter at the horizon) and far towers: hazy by day, dark with lit windows by night."""
    vr = rays[1][mask]
    top, low = ([0.02, 0.03, 0.08], [0.09, 0.09, 0.14]) if night else ([0.42, 0.60, 0.88], [0.82, 0.87, 0.93])
    t = np.clip(1.0 + vr / mask.shape[0], 0.0, 1.0)[:, None]  # 0 at the top, 1 at the horizon
    sky = np.float32(top) + (np.float32(low) - np.float32(top)) * t  # (N, 3)
    x, h = _layer(cam, (rays[0][mask], vr, rays[2]), cam.distance + SKYLINE_DEPTH_M)
    idx = np.clip(np.searchsorted(st.sky_x0, x, "right") - 1, 0, len(st.sky_x0) - 1)
    tower = h < st.sky_h[idx]
    if night:
        cell = (np.floor(x[tower] / 2.5) * 7919 + np.floor(h[tower] / 3.0) * 104729).astype(np.int64)
        lit = (cell * 2654435761 % 1000) < 120
        sky[tower] = np.where(lit[:, None], np.float32([0.55, 0.45, 0.25]), np.float32([0.03, 0.03, 0.05]))
    else:
        sky[tower] = st.sky_rgb[idx[tower]] * 0.65 + sky[tower] * 0.35  # aerial perspective: haze
    img[mask] = sky


def _paint_ground(
    img: np.ndarray, st: Street, cam: Camera, rays: Rays, mask: np.ndarray, night: bool
) -> None:
    """Road near the camera, a kerb stone line, then the sidewalk up to the facades."""
    dist = CAMERA_HEIGHT_M * rays[2] / rays[1][mask]  # ground distance seen by each pixel
    kerb = cam.distance - 3.5
    colors = np.concatenate([st.ground_rgb, np.float32([[0.8, 0.8, 0.78]])]) * np.float32(
        0.12 if night else 1.0
    )
    which = np.where(dist >= kerb, 0, np.where(dist < kerb - 0.25, 1, 2))  # sidewalk, road, kerb stone
    img[mask] = colors[which]


def _paint_facades(img: np.ndarray, st: Street, cam: Camera, rays: Rays, night: bool) -> np.ndarray:
    """Buildings: each covered pixel gets a material code, then one colour lookup; returns the covered mask."""
    x, h = _layer(cam, rays, cam.distance)
    idx = np.clip(np.searchsorted(st.b_x0, x, "right") - 1, 0, len(st.b_x0) - 1)
    xb = x - st.b_x0[idx]  # position within the building
    half = st.b["width"][idx] / 2
    inside = (h >= 0) & (h < st.b["height"][idx] + st.b["gable"][idx] * (half - np.abs(xb - half)))  # gables
    idx, h, xb = idx[inside], h[inside], xb[inside]  # flattened to the N covered pixels
    mat = np.zeros(len(idx), np.int64)
    ground, upper = np.nonzero(h < st.b["ground_h"][idx])[0], np.nonzero(h >= st.b["ground_h"][idx])[0]
    gi, ui = idx[ground], idx[upper]  # the floors are detailed separately: each only costs its own pixels
    mat[ground], shop = _ground_floor({k: v[gi] for k, v in st.b.items()}, xb[ground], h[ground], gi)
    p = {k: v[ui] for k, v in st.b.items()}
    mat[upper], windows = _upper_floors(p, xb[upper], h[upper])
    if night:
        mat[upper[_lit(p, xb[upper], h[upper], ui) & windows]] = LIT
        mat[ground[shop & (st.b["shop_lit"][gi] > 0)]] = LIT
        img[inside] = st.palette_night[idx, mat]
    else:
        shade = 0.88 + 0.12 * np.minimum(h / 20.0, 1.0)  # walls lighter up high
        glass = mat == GLASS
        shade[glass] = 0.8 + 0.4 * np.mod(h[glass] - st.b["ground_h"][idx[glass]], 3.0) / 3.0  # reflections
        img[inside] = st.palette_day[idx, mat] * shade[:, None].astype(np.float32)
    return inside


def _upper_floors(p: dict[str, np.ndarray], xb: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Materials above the ground floor (windows, frames, balconies, bands, pilasters, murals, roof); window mask."""
    mat = np.zeros(len(h), np.int64)  # WALL
    in_floor = np.mod(h - p["ground_h"], p["floor_h"])
    below_roof = h < p["height"] - 1.0
    col = np.mod(xb - p["win_off"], p["win_period"])
    mural_d2 = ((xb - p["mural_x"]) ** 2 + (h - p["mural_y"]) ** 2) / p["mural_r"] ** 2
    mural = (p["mural"] > 0) & (mural_d2 < 1)
    inner = (xb > 0.6) & (xb < p["width"] - 0.6) & below_roof & ~mural
    win = inner & (in_floor > 0.8) & (in_floor < 0.8 + p["win_h"]) & (col < p["win_w"])
    frame = inner & (col < p["win_w"] + 0.3) & (in_floor > 0.65) & (in_floor < 0.95 + p["win_h"])
    band = below_roof & (in_floor < np.where(p["style"] == STRIPES, 0.45 * p["floor_h"], 0.22 * p["bands"]))
    pilaster = inner & (p["style"] == PILASTERS) & (col > p["win_w"] + 0.3) & (col < p["win_w"] + 0.75)
    mat[frame | band | pilaster | (h > p["height"] - 0.8)] = TRIM
    mat[win] = GLASS
    mat[win & (p["balcony"] > 0) & (in_floor < 0.8 + 0.45 * p["win_h"])] = DOOR  # balcony railings
    mat[mural] = np.where(np.abs(mural_d2[mural] - 0.45) < 0.15, LETTER, SIGN)  # a ringed disc
    mat[h > p["height"]] = ROOF
    return mat, win


def _ground_floor(
    p: dict[str, np.ndarray], xb: np.ndarray, h: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Materials of the ground floor (shop window, mullions, door, awning, lettered sign) and the shop mask."""
    mat = np.zeros(len(h), np.int64)  # WALL
    gh = p["ground_h"]
    shop = (h > 0.4) & (h < gh - 1.3) & (xb > 0.8) & (xb < p["width"] - 0.8)
    mat[shop] = SHOP
    mat[shop & ((np.mod(xb, 2.7) < 0.15) | (np.abs(xb - p["door_x"]) < 0.6))] = DOOR
    awning = (p["awning"] > 0) & (h > gh - 1.35) & (h < gh - 1.0) & (xb > 0.5) & (xb < p["width"] - 0.5)
    mat[awning] = AWNING
    mat[awning & (np.mod(xb, 1.0) < 0.5)] = SIGN
    rel = xb - p["sign_x0"]
    sign = (h > gh - 0.95) & (h < gh - 0.2) & (rel > 0) & (xb < p["sign_x1"])
    mat[sign] = SIGN
    # Letters: 0.42 m cells, two glyph halves, on/off from a hash of (building, cell, half).
    code = (
        np.floor(rel / 0.42).astype(np.int64) * 73856093
        ^ idx * 19349663
        ^ (h > gh - 0.575).astype(np.int64) * 83492791
    ) % 1009
    mat[sign & (np.mod(rel, 0.42) < 0.3) & (h > gh - 0.85) & (h < gh - 0.3) & (code % 3 != 0)] = LETTER
    return mat, shop


def _lit(p: dict[str, np.ndarray], xb: np.ndarray, h: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Which window cells are lit at night: a per-building fraction, fixed by a hash of the cell."""
    column = np.floor((xb - p["win_off"]) / p["win_period"])
    floor = np.floor((h - p["ground_h"]) / p["floor_h"])
    cell = (column * 7919 + floor * 104729).astype(np.int64) + idx * 15485863
    return (cell * 2654435761 % 1000) < p["lit_frac"] * 1000


def _paint_kerb(img: np.ndarray, st: Street, cam: Camera, rays: Rays, night: bool) -> None:
    """Trees and lamp posts on the kerb (a nearer plane: they move faster than the facades)."""
    x, h = _layer(cam, rays, cam.distance - KERB_SETBACK_M)
    lo, hi = min(x[0, 0], x[-1, 0]) - 4.0, max(x[0, -1], x[-1, -1]) + 4.0  # visible span, with margin
    for pos, radius, crown_h, shade in st.trees[(st.trees[:, 0] > lo) & (st.trees[:, 0] < hi)]:
        cols = _columns(x, pos - radius * 1.2, pos + radius * 1.2)
        if cols.stop > cols.start:
            _tree(img[:, cols], x[:, cols] - pos, h[:, cols], radius, crown_h, shade, night)
    for pos in st.lamps[(st.lamps > lo) & (st.lamps < hi)]:
        cols = _columns(x, pos - (4.0 if night else 0.2), pos + (4.0 if night else 1.0))
        if cols.stop > cols.start:
            _lamp(img[:, cols], x[:, cols] - pos, h[:, cols], night)


def _tree(
    img: np.ndarray, dx: np.ndarray, h: np.ndarray, r: float, ch: float, shade: float, night: bool
) -> None:
    """A trunk and a lumpy round crown, lit from above."""
    img[(np.abs(dx) < 0.14) & (h > -0.5) & (h < ch)] = np.float32([0.30, 0.22, 0.15]) * (
        0.1 if night else 1.0
    )
    dy = (h - ch) / 0.9
    lumps = 1.0 + 0.12 * np.sin(5.0 * np.arctan2(dy, dx) + 7.0 * shade)
    crown = dx * dx + dy * dy < (r * lumps) ** 2
    tone = (0.75 + 0.35 * np.clip((h[crown] - ch) / r, -1, 1))[:, None]
    img[crown] = np.float32([0.20, 0.38, 0.14]) * np.float32(shade * (0.08 if night else 1.0)) * tone


def _lamp(img: np.ndarray, dx: np.ndarray, h: np.ndarray, night: bool) -> None:
    """A thin pole with an arm and a head; at night a glow around the head."""
    pole = (np.abs(dx) < 0.07) & (h > -0.5) & (h < 5.6)
    head = (dx > -0.05) & (dx < 0.9) & (h > 5.35) & (h < 5.6)
    img[pole | head] = np.float32([0.18, 0.19, 0.2]) * np.float32(0.3 if night else 1.0)
    if night:
        d2 = (dx - 0.7) ** 2 + (h - 5.2) ** 2
        glow = 1.6 * np.exp(-d2 / 0.08) + 0.35 * np.exp(-d2 / 3.0)
        img += glow[..., None] * np.float32([1.0, 0.85, 0.6])


def _paint_transients(
    img: np.ndarray, cam: Camera, rays: Rays, night: bool, rng: np.random.Generator
) -> None:
    """Parked cars and pedestrians that differ from one capture to the next."""
    dim = np.float32(0.08 if night else 1.0)
    half_view = 0.5 * rays[0].shape[1] / rays[2]  # half the field of view per metre of depth
    for _ in range(rng.poisson(0.7)):
        x, h = _layer(cam, rays, cam.distance - CAR_SETBACK_M)
        xc = cam.s + rng.uniform(-1.2, 0.8) * half_view * (cam.distance - CAR_SETBACK_M)
        cols = _columns(x, xc, xc + 4.2)
        _car(
            img[:, cols], x[:, cols] - xc, h[:, cols], SIGN_PALETTE[rng.integers(0, len(SIGN_PALETTE))] * dim
        )
    for _ in range(rng.poisson(0.5)):
        depth = max(cam.distance - 8.0, 2.0)
        x, h = _layer(cam, rays, depth)
        xp = cam.s + rng.uniform(-1.0, 1.0) * half_view * depth
        cols = _columns(x, xp - 0.3, xp + 0.3)
        dx, hh = x[:, cols] - xp, h[:, cols]
        body = (np.abs(dx) < 0.25) & (hh > 0.0) & (hh < 1.5) | (dx * dx + (hh - 1.65) ** 2 < 0.02)
        img[:, cols][body] = rng.uniform(0.05, 0.9, 3).astype(np.float32) * dim


def _car(img: np.ndarray, dx: np.ndarray, h: np.ndarray, color: np.ndarray) -> None:
    """Body, cabin with windows, two wheels."""
    body = (dx > 0) & (dx < 4.2) & (h > 0.25) & (h < 1.05)
    cabin = (dx > 0.9) & (dx < 3.1) & (h >= 1.05) & (h < 1.5)
    img[body | cabin] = color
    img[cabin & (np.abs(dx - 2.0) > 0.05) & (dx > 1.05) & (dx < 2.95) & (h < 1.42)] = color * 0.3 + 0.08
    for wx in (0.8, 3.4):
        img[(dx - wx) ** 2 + (h - 0.3) ** 2 < 0.09] = 0.05
