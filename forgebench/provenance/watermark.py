"""Keyed spread-spectrum video watermark with a BCH-protected 72-bit payload.

Design (numbers for the defaults):

* **Payload** (:class:`Payload`, 72 bits) -> BCH(248, 72, t=27) codeword ``c`` (:mod:`.ecc`).
* **Chip grid**: the frame is divided into a 128 x 128 grid of *chips* (4 x 4 pixels at
  512 x 512). The key seeds a random sign ``s_k = +-1`` per chip and a random
  interleaving that assigns each chip to one coded bit (66-67 chips per bit,
  scattered over the frame so a crop or a local edit costs every bit a little
  instead of some bits everything). Chip value: ``v_k = s_k (2 c_bit(k) - 1)``.
* **Embedding**: the 128 x 128 chip image is bilinearly upsampled to the frame size
  (a smooth, low/mid-frequency pattern that survives downscaling to a quarter and
  H.264's loss of fine detail), multiplied by a perceptual mask (local luma
  activity: stronger in texture, weaker in flat areas) and scaled to an RMS of
  ``strength`` grey levels (default 1.9, PSNR ~ 42.5 dB), then added equally to
  R, G and B, i.e. to luma only. Every frame carries the whole codeword; the
  mark's sign flips every half period (0.5 s), so the detector can subtract the
  two half periods and cancel everything static in the video (the background of
  a talking face would otherwise drown the mark). Per frame this is two saturating
  uint8 adds (~0.15 ms at 512 x 512); the mask is refreshed every ``mask_interval`` frames.
* **Detection**: needs no frame numbers (trimming and frame-rate changes only
  remove frames): frames are binned by their time modulo the period; for each of
  5 phase hypotheses the mean luma of one half period minus the other is mapped
  onto the chip grid (for each centre-crop hypothesis ``s`` in 1.00, 0.99 ... 0.70), whitened
  (subtract a local mean, weight by the inverse local activity) and correlate
  each bit's chips with their signs::

      z_i = sum_k s_k w_k h_k / sqrt(sum_k w_k^2 h_k^2)      (k in the chips of bit i)

  Given any unmarked frame, the key's signs are independent fair coins, so each
  ``z_i`` is a normalised Rademacher sum: mean 0, variance exactly 1, near-Gaussian
  and sub-Gaussian in the tails, and the ``z_i`` of different bits are independent.
  The presence statistic ``S = sum_i z_i^2`` is therefore ~ chi-square with
  ``n_bits`` degrees of freedom under H0; the p-value is ``chi2.sf(S)`` at the
  best (phase, crop) hypothesis times the number of hypotheses (Bonferroni), and the mark
  is declared present when it is below ``threshold`` (default 1e-6). The payload
  is read by Chase/BCH decoding of the soft values ``z``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from forgebench.errors import InputError
from forgebench.provenance.ecc import PAYLOAD_BITS, BCHCode, DecodeError, Payload

DEFAULT_KEY = "forgebench-public-watermark-key-v1"
KEY_ENV = "FORGEBENCH_WATERMARK_KEY"
CHIP_GRID = 128
PERIOD_S = 1.0
PHASE_BINS = 10
DEFAULT_SCALES: tuple[float, ...] = tuple(np.round(np.arange(1.0, 0.695, -0.01), 2).tolist())


def resolve_key(key: str | None = None) -> str:
    """The key to use: the argument, else $FORGEBENCH_WATERMARK_KEY, else the public project key."""
    return key or os.environ.get(KEY_ENV) or DEFAULT_KEY


def rgb_luma(frame: np.ndarray) -> np.ndarray:
    """[H,W,3] uint8 RGB -> [H,W] float32 luma (BT.601 weights, which sum to 1)."""
    f = frame.astype(np.float32)
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


@dataclass
class EmbedPlan:
    """Everything precomputed for one (key, payload, frame size); ``embed`` only adds it.

    ``pattern`` is the unit-amplitude pattern [H,W] float32; ``pos``/``neg`` are the
    current masked, scaled, rounded additions [H,W,3] uint8 (refreshed with the mask).
    """

    height: int
    width: int
    payload: Payload
    codeword: np.ndarray
    pattern: np.ndarray
    half_period: int = 12
    pos: np.ndarray | None = None
    neg: np.ndarray | None = None
    mask_frame: int = -(10**9)


@dataclass
class WatermarkReport:
    """Result of :meth:`Watermarker.detect`.

    ``ber`` compares the hard decisions with the re-encoded decoded codeword (None if
    decoding failed); ``bit_confidence`` is the mean |z| of the coded bits (their
    signal-to-noise ratio); ``soft`` holds the z values [n_bits]; ``scale`` is the
    centre-crop hypothesis that fitted best (1.0 = uncropped).
    """

    present: bool
    payload: Payload | None
    ber: float | None
    p_value: float
    frames_used: int
    bit_confidence: float
    statistic: float
    scale: float
    phase: float = 0.0
    soft: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))


class Watermarker:
    """Embed and detect the keyed watermark.

    Args:
        key: secret key (default: ``$FORGEBENCH_WATERMARK_KEY`` or the public project key).
        strength: RMS luma change in grey levels (1.9 -> PSNR ~ 42.5 dB before rounding).
        masking: scale the mark by local luma activity (perceptual masking).
        mask_interval: refresh the mask every this many frames (talking-face frames change slowly).
        threshold: declare the mark present when the p-value is below this.
        scales: centre-crop fractions searched by the detector.
        period_s: the mark's sign flips every ``period_s / 2`` seconds (see the module docstring).
        chip_grid: chips per side of the frame.

    >>> wm = Watermarker()
    >>> frames = np.random.default_rng(0).integers(0, 256, (25, 128, 128, 3), dtype=np.uint8)
    >>> p = Payload(1, 4, 42, 1000)
    >>> rep = wm.detect(wm.embed_frames(frames, p))
    >>> rep.present, rep.payload == p
    (True, True)
    """

    def __init__(self, key: str | None = None, strength: float = 1.9, *, masking: bool = True,
                 mask_interval: int = 25, threshold: float = 1e-6,
                 scales: tuple[float, ...] = DEFAULT_SCALES, chip_grid: int = CHIP_GRID,
                 period_s: float = PERIOD_S) -> None:
        if not 0 < strength <= 20:
            raise InputError(f"watermark strength {strength} must be in (0, 20] grey levels")
        if not 0 < threshold < 1:
            raise InputError(f"watermark threshold {threshold} must be in (0, 1)")
        self.key = resolve_key(key)
        self.strength = float(strength)
        self.masking = masking
        self.mask_interval = max(1, int(mask_interval))
        self.threshold = float(threshold)
        self.scales = tuple(float(s) for s in scales)
        self.code = BCHCode(m=8, t=27, k=PAYLOAD_BITS)
        self.grid = int(chip_grid)
        self.period_s = float(period_s)
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(self.key.encode()).digest()[:8], "little"))
        n_chips = self.grid * self.grid
        self.chip_sign = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(self.grid, self.grid))
        # Interleave: chip k carries coded bit chip_bit[k]; every bit gets 16 or 17 chips spread over the frame.
        self.chip_bit = (rng.permutation(n_chips) % self.code.n).reshape(self.grid, self.grid)

    # -- embedding --------------------------------------------------------------------

    def chip_values(self, codeword: np.ndarray) -> np.ndarray:
        """[grid,grid] float32 chip image +-1 for a codeword [n_bits]."""
        return self.chip_sign * (2.0 * codeword[self.chip_bit].astype(np.float32) - 1.0)

    def prepare(self, height: int, width: int, payload: Payload, fps: float = 25.0) -> EmbedPlan:
        """Precompute the pattern for one frame size, payload and frame rate."""
        if height < 64 or width < 64:
            raise InputError(f"frames of {width}x{height} are too small to watermark: need at least 64x64 pixels")
        codeword = self.code.encode(payload.to_bits())
        pattern = cv2.resize(self.chip_values(codeword), (width, height), interpolation=cv2.INTER_LINEAR)
        half = max(1, int(round(fps * self.period_s / 2)))
        return EmbedPlan(height, width, payload, codeword, pattern, half)

    def _mask(self, frame: np.ndarray) -> np.ndarray:
        """Perceptual mask [H,W] float32 with unit RMS: local luma std (at low res), floored and capped."""
        h, w = frame.shape[:2]
        small = cv2.resize(rgb_luma(frame), (min(w, 128), min(h, 128)), interpolation=cv2.INTER_AREA)
        mean = cv2.blur(small, (5, 5))
        var = np.maximum(cv2.blur(small * small, (5, 5)) - mean * mean, 0.0)
        act = np.sqrt(var) + 2.0  # floor: flat areas still get a weak mark
        act = np.clip(act / float(np.median(act)), 0.35, 2.5)
        act = cv2.GaussianBlur(act, (0, 0), 1.5)
        return cv2.resize(act, (w, h), interpolation=cv2.INTER_LINEAR)

    def _refresh(self, frame: np.ndarray, plan: EmbedPlan, frame_index: int) -> None:
        delta = plan.pattern * self._mask(frame) if self.masking else plan.pattern.copy()
        delta *= self.strength / max(float(np.sqrt(np.mean(delta * delta))), 1e-6)
        delta = np.rint(delta)
        pos = np.clip(delta, 0, 255).astype(np.uint8)
        neg = np.clip(-delta, 0, 255).astype(np.uint8)
        plan.pos = np.ascontiguousarray(np.repeat(pos[..., None], 3, axis=2))
        plan.neg = np.ascontiguousarray(np.repeat(neg[..., None], 3, axis=2))
        plan.mask_frame = frame_index

    def embed(self, frame: np.ndarray, frame_index: int, plan: EmbedPlan) -> np.ndarray:
        """Watermark one [H,W,3] uint8 RGB frame (returns a new array; the input is not modified)."""
        if frame.shape != (plan.height, plan.width, 3) or frame.dtype != np.uint8:
            raise InputError(
                f"frame of shape {frame.shape} {frame.dtype} does not match the plan "
                f"({plan.height}, {plan.width}, 3) uint8: prepare a plan for this size"
            )
        if plan.pos is None or abs(frame_index - plan.mask_frame) >= self.mask_interval:
            self._refresh(frame, plan, frame_index)
        if (frame_index // plan.half_period) % 2 == 0:
            return cv2.subtract(cv2.add(frame, plan.pos), plan.neg)
        return cv2.subtract(cv2.add(frame, plan.neg), plan.pos)

    def embed_frames(self, frames: Iterable[np.ndarray] | np.ndarray, payload: Payload,
                     fps: float = 25.0) -> np.ndarray:
        """Watermark a sequence of frames (frame 0 first) -> [T,H,W,3] uint8."""
        out, plan = [], None
        for i, frame in enumerate(frames):
            if plan is None:
                plan = self.prepare(frame.shape[0], frame.shape[1], payload, fps)
            out.append(self.embed(frame, i, plan))
        if not out:
            raise InputError("no frames to watermark")
        return np.stack(out)

    # -- detection --------------------------------------------------------------------

    def _chip_image(self, mean_luma: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Map a luma image onto the chip grid assuming a centre crop keeping ``scale``.

        Returns (chip image, validity mask) [grid,grid] float32. The crop covers original
        coordinates [(1-s)/2, (1+s)/2]; pixel centres map as j = a*i + b.
        """
        g = self.grid
        size = max(8, int(round(2 * g * scale)))
        small = cv2.resize(mean_luma, (size, size), interpolation=cv2.INTER_AREA)
        a = g * scale / size
        b = g * (1.0 - scale) / 2.0 + 0.5 * a - 0.5
        m = np.array([[a, 0.0, b], [0.0, a, b]], dtype=np.float64)
        chips = cv2.warpAffine(small, m, (g, g), flags=cv2.INTER_LINEAR, borderValue=0.0)
        valid = cv2.warpAffine(np.ones_like(small), m, (g, g), flags=cv2.INTER_LINEAR,
                               borderValue=0.0)
        return chips, (valid > 0.999).astype(np.float32)

    def _soft_bits(self, chips: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-bit z statistics [n_bits] and chip counts [n_bits] from a chip image."""
        eps = 1e-6
        # Whiten: subtract the local mean (normalised convolution ignores invalid chips).
        local = cv2.GaussianBlur(chips * valid, (0, 0), 1.5) / (cv2.GaussianBlur(valid, (0, 0), 1.5) + eps)
        h = (chips - local) * valid
        # Weight by the inverse local activity (matched filter for a mark proportional to activity
        # in noise proportional to activity); the weights depend on the image only, keeping z's null exact.
        act = cv2.GaussianBlur(h * h, (0, 0), 3.0) / (cv2.GaussianBlur(valid, (0, 0), 3.0) + eps)
        hw = h / np.sqrt(act + 1e-2)
        bits = self.chip_bit.ravel()
        num = np.bincount(bits, weights=(self.chip_sign * hw).ravel(), minlength=self.code.n)
        den = np.bincount(bits, weights=(hw * hw).ravel(), minlength=self.code.n)
        count = np.bincount(bits, weights=valid.ravel(), minlength=self.code.n)
        z = np.where(den > 1e-12, num / np.sqrt(np.maximum(den, 1e-12)), 0.0)
        return z, count

    def _best_hypothesis(self, diff: np.ndarray) -> tuple[float, float, np.ndarray, float]:
        """(log chi-square p, scale, z [n_bits], statistic) of the best crop hypothesis for one image."""
        from scipy import stats  # here: embedding (every generated video) does not need it

        best = None
        for scale in self.scales:
            z, count = self._soft_bits(*self._chip_image(diff, scale))
            dof = int((count > 0).sum())
            stat = float(np.sum(z * z))
            logp = float(stats.chi2.logsf(stat, dof)) if dof else 0.0
            if best is None or logp < best[0]:
                best = (logp, scale, z, stat)
        return best

    def detect_bins(self, sums: np.ndarray, counts: np.ndarray) -> WatermarkReport:
        """Detect from per-phase-bin luma sums [B,H,W] and frame counts [B] (see :meth:`detect`).

        Bin b holds the frames whose time modulo the period falls in [b, b+1) * period / B.
        For each phase hypothesis the frames are split into the two half periods and the
        difference of their means is analysed: the mark's sign flips between the halves,
        so everything static in the video (most of a talking-face frame) cancels.
        """
        n_bins = len(counts)
        frames_used = int(counts.sum())
        hypotheses, best = [], None
        for phase in range(n_bins // 2):
            plus = ((np.arange(n_bins) - phase) % n_bins) < n_bins // 2
            n_plus, n_minus = counts[plus].sum(), counts[~plus].sum()
            if n_plus == 0 or n_minus == 0:
                continue  # shorter than half a period: no contrast for this phase
            hypotheses.append(phase)
            diff = sums[plus].sum(0) / n_plus - sums[~plus].sum(0) / n_minus
            cand = self._best_hypothesis(diff.astype(np.float32))
            if best is None or cand[0] < best[0][0]:
                best = (cand, phase)
        if best is None:
            # Every frame falls in one half period: use the plain mean (static content then interferes).
            hypotheses.append(0)
            best = (self._best_hypothesis((sums.sum(0) / max(frames_used, 1)).astype(np.float32)), 0)
        (logp, scale, z, stat), phase = best
        n_hyp = len(hypotheses) * len(self.scales)
        p_value = float(min(1.0, np.exp(logp) * n_hyp))
        present = p_value < self.threshold
        payload, ber = None, None
        if present:
            # The two halves are only known up to their order, so z and -z are both candidates.
            decoded = []
            for sign in (1.0, -1.0):
                try:
                    message, codeword = self.code.decode_soft(sign * z)
                except DecodeError:
                    continue
                decoded.append((float(np.dot(sign * z, 2.0 * codeword - 1.0)), sign, message, codeword))
            if decoded:
                _, sign, message, codeword = max(decoded, key=lambda d: d[0])
                payload = Payload.from_bits(message)
                ber = float(np.mean((sign * z > 0) != (codeword > 0)))
        return WatermarkReport(present, payload, ber, p_value, frames_used, float(np.mean(np.abs(z))), stat,
                               scale, phase * self.period_s / n_bins, z)

    def detect(self, frames: Iterable[np.ndarray], fps: float = 25.0, max_frames: int | None = None,
               n_bins: int = PHASE_BINS) -> WatermarkReport:
        """Look for the mark in [H,W,3] uint8 RGB frames at ``fps`` (any start point, any frame rate).

        Frames are accumulated by their time modulo the period, so memory is ``n_bins``
        frames whatever the length; pass ``max_frames`` to stop early.
        """
        sums, counts, n = None, np.zeros(n_bins), 0
        for frame in frames:
            luma = rgb_luma(frame) if frame.ndim == 3 else frame.astype(np.float32)
            if sums is None:
                sums = np.zeros((n_bins, *luma.shape), dtype=np.float64)
            elif luma.shape != sums.shape[1:]:
                raise InputError(f"frame {n} is {luma.shape[1]}x{luma.shape[0]}, earlier frames were "
                                 f"{sums.shape[2]}x{sums.shape[1]}: frames of one video must share a size")
            b = int(((n / fps) % self.period_s) / self.period_s * n_bins) % n_bins
            sums[b] += luma
            counts[b] += 1
            n += 1
            if max_frames is not None and n >= max_frames:
                break
        if sums is None:
            raise InputError("no frames to read the watermark from: the video is empty")
        return self.detect_bins(sums, counts)
