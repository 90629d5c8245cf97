"""Self-blended video: pseudo-fakes made from real clips alone (SBI, Shiohara & Yamasaki, CVPR 2022).

SBI blends a face with a slightly transformed copy of *itself* under a mask. The result has
the traces every face-replacement or re-rendering leaves (a blending boundary, a colour or
sharpness mismatch, a small misalignment between the inner face and its surroundings) without
the fingerprint of any one generator, so a detector trained on it learns what fakes share.

Here it is adapted to video (one clip in, one clip out):

* the *copy* of each frame is warped by a small similarity about the face centre (scale
  ``1 +- scale``, shift up to ``shift`` x the face width), its colours jittered (per-channel gain and
  offset up to ``color``), and either blurred or sharpened (unsharp mask): the frequency jitter;
* the *mask* is the convex hull of the tracked mesh (``region='face'``) or of its lower half
  (``region='mouth'``, below the nose tip: where a lip-sync dub re-renders), elastically
  deformed by one smooth random field, grown or shrunk, then blurred; the blend ratio scales it;
* all parameters are drawn once per clip from its seed and move only linearly from a start
  to an end value over the clip (``drift`` x their range): the blend never flickers;
* ``out = frame`` wherever the mask is 0 (bit-exact), ``(1 - m) frame + m copy`` elsewhere.

Landmarks come from :class:`~forgebench.media.face_mesh_lite.LiteFaceMeshTracker` on the
framed frames; a frame where tracking drops uses the last face found (the blend region
follows the head). A clip with no face is refused with one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from forgebench.errors import InputError
from forgebench.media.face_geometry import NOSE_TIP

PARAM_RANGES = ("scale", "dx", "dy", "gain", "offset", "freq", "grow", "blur", "ratio")


@dataclass(frozen=True)
class BlendConfig:
    """The spec's ``selfblend`` parameters (:class:`forgebench.benchmarks.spec.SelfBlendParams`)."""

    region: str = "face"
    scale: float = 0.03
    shift: float = 0.02
    color: float = 0.06
    blend: tuple[float, float] = (0.25, 1.0)
    drift: float = 0.2
    lag: tuple[int, int] = (0, 0)  # frames: the copy comes from frame t +- lag (a lip-sync dub's desync)

    def __post_init__(self) -> None:
        if self.region not in ("face", "mouth"):
            raise InputError(f"selfblend region {self.region!r} is unknown: use face or mouth")
        lo, hi = self.blend
        if not 0.0 < lo <= hi <= 1.0:
            raise InputError(f"selfblend blend range {self.blend} must satisfy 0 < low <= high <= 1")
        if not 0 <= self.lag[0] <= self.lag[1] <= 50:
            raise InputError(f"selfblend lag range {self.lag} must satisfy 0 <= low <= high <= 50 frames")


@dataclass(frozen=True)
class BlendDraw:
    """One clip's blend parameters at its start (``a``) and end (``b``); frame t uses the linear mix."""

    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    sharpen: bool  # frequency jitter: sharpen (True) or blur (False), fixed per clip
    field: np.ndarray  # [4, 4, 2] elastic offsets of the mask, in face widths

    def at(self, u: float) -> dict[str, np.ndarray]:
        return {k: self.a[k] + u * (self.b[k] - self.a[k]) for k in self.a}

    @property
    def max_grow(self) -> float:
        """Largest mask growth over the clip (face widths): with the field and blur, bounds the mask's reach."""
        return float(max(self.a["grow"].max(), self.b["grow"].max(), 0.0))


def draw(config: BlendConfig, rng: np.random.Generator) -> BlendDraw:
    """Draw a clip's parameters: start values uniformly in their ranges, end values ``drift`` of a range away."""

    def one() -> dict[str, np.ndarray]:
        return {
            "scale": rng.uniform(-config.scale, config.scale, 1),
            "dx": rng.uniform(-config.shift, config.shift, 1),
            "dy": rng.uniform(-config.shift, config.shift, 1),
            "gain": rng.uniform(-config.color, config.color, 3),
            "offset": rng.uniform(-config.color, config.color, 3) * 128.0,
            "freq": rng.uniform(0.3, 1.2, 1),  # blur sigma (px at 256) or sharpen amount
            "grow": rng.uniform(-0.04, 0.06, 1),  # erode (<0) or dilate (>0) the hull, face widths
            "blur": rng.uniform(0.02, 0.08, 1),  # mask feather, face widths
            "ratio": rng.uniform(*config.blend, 1),
        }

    a, target = one(), one()
    b = {k: a[k] + config.drift * (target[k] - a[k]) for k in a}
    sharpen = bool(rng.integers(0, 2))
    field = rng.uniform(-0.04, 0.04, (4, 4, 2))
    return BlendDraw(a, b, sharpen, field)


def region_points(points: np.ndarray, region: str) -> np.ndarray:
    """[K, 2] mesh points whose hull is the blend region: all of them, or those at or below the nose tip."""
    xy = np.asarray(points, np.float64)[:, :2]
    if region == "face":
        return xy
    return xy[xy[:, 1] >= xy[NOSE_TIP, 1]]


def blend_mask(points: np.ndarray, shape: tuple[int, int], region: str, p: dict[str, np.ndarray],
               field: np.ndarray) -> np.ndarray:
    """[H, W] float32 mask in [0, ratio]: hull -> elastic field -> grow/shrink -> feather -> x ratio."""
    import cv2

    h, w = shape
    xy = region_points(points, region)
    face_w = float(np.ptp(np.asarray(points)[:, 0])) or 1.0
    hull = cv2.convexHull(np.round(xy).astype(np.int32))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    # Elastic deformation: one smooth displacement field (4x4 control offsets, bicubic) for the whole clip.
    disp = cv2.resize(field.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * face_w
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mask = cv2.remap(mask, gx + disp[..., 0], gy + disp[..., 1], cv2.INTER_LINEAR, borderValue=0)
    k = int(round(abs(float(p["grow"][0])) * face_w))
    if k > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        mask = cv2.dilate(mask, kernel) if p["grow"][0] > 0 else cv2.erode(mask, kernel)
    sigma = max(float(p["blur"][0]) * face_w, 0.5)
    ksize = 2 * int(np.ceil(3 * sigma)) + 1
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (ksize, ksize), sigma)
    soft[soft < 1e-3] = 0.0  # the Gaussian's far tail: exactly outside, so the blend region is bounded
    return soft * float(np.clip(p["ratio"][0], 0.0, 1.0))


RIGID_POINTS = (1, 6, 168, 33, 133, 263, 362, 234, 454)  # nose, nose bridge, eye corners, cheeks: not moved by speech


def align_to(source: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """``source`` warped by the least-squares similarity taking its rigid face points onto ``dst_pts``' (so that
    another moment of the clip lines up with this frame's head, while its mouth keeps its own opening)."""
    import cv2

    a = np.asarray(src_pts, np.float64)[list(RIGID_POINTS), :2]
    b = np.asarray(dst_pts, np.float64)[list(RIGID_POINTS), :2]
    ma, mb = a.mean(0), b.mean(0)
    sa, sb = a - ma, b - mb
    den = max(float((sa * sa).sum()), 1e-12)  # closed-form 2D Umeyama: rotation-scale as a complex number
    c = float((sb * sa).sum()) / den
    d = float((sa[:, 0] * sb[:, 1] - sa[:, 1] * sb[:, 0]).sum()) / den
    m = np.array([[c, -d, mb[0] - (c * ma[0] - d * ma[1])], [d, c, mb[1] - (d * ma[0] + c * ma[1])]])
    h, w = source.shape[:2]
    return cv2.warpAffine(source, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def transformed_copy(frame: np.ndarray, points: np.ndarray, p: dict[str, np.ndarray], sharpen: bool) -> np.ndarray:
    """The frame warped (scale, shift about the face centre), colour-jittered and blurred or sharpened (float32)."""
    import cv2

    h, w = frame.shape[:2]
    xy = np.asarray(points, np.float64)[:, :2]
    cx, cy = xy.mean(0)
    face_w = float(np.ptp(xy[:, 0])) or 1.0
    s = 1.0 + float(p["scale"][0])
    m = np.array([[s, 0.0, (1 - s) * cx + float(p["dx"][0]) * face_w],
                  [0.0, s, (1 - s) * cy + float(p["dy"][0]) * face_w]])
    copy = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    copy = copy.astype(np.float32) * (1.0 + p["gain"].astype(np.float32)) + p["offset"].astype(np.float32)
    amount = float(p["freq"][0]) * w / 256.0
    smooth = cv2.GaussianBlur(copy, (0, 0), max(amount, 0.3))
    copy = copy + float(p["freq"][0]) * (copy - smooth) if sharpen else smooth
    return copy


def blend_frame(frame: np.ndarray, points: np.ndarray, p: dict[str, np.ndarray], region: str, sharpen: bool,
                field: np.ndarray, source: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(blended uint8 frame, mask): equal to ``frame`` bit for bit wherever the mask is 0.

    ``source``: the image the transformed copy is made from (default: the frame itself; another moment of
    the clip aligned to this frame for a desynchronised mouth)."""
    mask = blend_mask(points, frame.shape[:2], region, p, field)
    copy = transformed_copy(frame if source is None else source, points, p, sharpen)
    m = mask[..., None]
    mixed = frame.astype(np.float32) * (1.0 - m) + copy * m
    out = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return np.where(m > 0, out, frame), mask


def _tracked(frames: Iterable[np.ndarray], landmarks: Iterable[np.ndarray | None] | None
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(frame, points) with every frame given a face: the last one found, or for frames before the first face,
    that first face (those frames wait in a buffer). A clip with no face at all is an :class:`InputError`."""
    pending: list[np.ndarray] = []
    last = None
    tracker = None
    if landmarks is None:
        from forgebench.media.face_mesh_lite import LiteFaceMeshTracker

        tracker = LiteFaceMeshTracker()
    lm_iter = iter(landmarks) if landmarks is not None else None
    try:
        for frame in frames:
            pts = tracker(frame) if tracker is not None else next(lm_iter)
            last = pts if pts is not None else last
            if last is None:
                pending.append(frame)
                continue
            for f in [*pending, frame]:
                yield f, last
            pending = []
        if pending or last is None:
            raise InputError("no face found in the clip: it cannot be self-blended")
    finally:
        if tracker is not None:
            tracker.close()


def self_blend(frames: Iterable[np.ndarray], config: BlendConfig, seed: int, n_frames: int,
               landmarks: Iterable[np.ndarray | None] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blend every frame of a clip: yields (frame, mask). ``n_frames`` (the clip length) paces the drift.

    ``landmarks`` (per frame [N, 2+] points or None) are tracked here when not given. A frame without
    a face uses the last face found; frames before the first face wait for it (they are buffered).
    With ``config.lag`` the copy of frame t is made from frame t + lag (lag drawn per clip in the range,
    with a random sign; t - lag where t + lag leaves the clip), aligned on the rigid face points: inside
    the mask the mouth moves ``lag`` frames early or late, as in a badly synchronised dub. The clip is
    then held in memory (5 s at 256² is 25 MB).
    """
    rng = np.random.default_rng(seed)
    d = draw(config, rng)
    lag = 0
    if config.lag[1] > 0:  # drawn after the blend parameters: lag-free configurations keep their streams
        lag = int(rng.integers(config.lag[0], config.lag[1] + 1)) * (1 if rng.integers(0, 2) else -1)

    def u(t: int) -> float:
        return min(t / max(n_frames - 1, 1), 1.0)

    if lag == 0:
        for t, (f, pts) in enumerate(_tracked(frames, landmarks)):
            yield blend_frame(f, pts, d.at(u(t)), config.region, d.sharpen, d.field)
        return
    items = list(_tracked(frames, landmarks))
    n = len(items)
    for t, (f, pts) in enumerate(items):
        j = t + lag if 0 <= t + lag < n else t - lag
        j = min(max(j, 0), n - 1)
        source = align_to(items[j][0], items[j][1], pts) if j != t else None
        yield blend_frame(f, pts, d.at(u(t)), config.region, d.sharpen, d.field, source=source)


def selfblend_video(src: str, dst, config: BlendConfig, seed: int, *, size: int | None = None,
                    fps: float | None = None, crf: int = 18, crop: str = "centre", face_scale: float = 1.8,
                    start: float = 0.0, seconds: float | None = None, bitrate: int | None = None):
    """Self-blend the clip ``src`` (framed, resampled and cut exactly as ``normalize`` does) into ``dst``.

    The pseudo-fake is encoded once, at ``crf`` (or ``bitrate``), from the same decoded source frames as its real
    clip, so the two differ by the blend alone (not by an extra generation of compression).
    """
    from forgebench.benchmarks.perturb import _reencode, normalized_frames
    from forgebench.media.video import probe_video

    info = probe_video(src)
    out_fps = float(fps or info.fps or 25.0)
    n = int(round((seconds if seconds else max(info.duration - start, 0.0)) * out_fps))
    frames = normalized_frames(src, size, fps, crop, face_scale, start, seconds)
    blended = (f for f, _ in self_blend(frames, config, seed, n))
    tag = f"region={config.region}:seed={seed}"
    return _reencode(src, dst, blended, out_fps, crf, ("forgebench_selfblend", tag),
                     audio_span=(start, seconds) if (start or seconds) else None, bitrate=bitrate)
