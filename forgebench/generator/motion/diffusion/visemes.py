"""Mouth targets from phoneme timings: a viseme table with co-articulation smoothing.

Each IPA token of the TTS voice (espeak-ng symbols) maps to a target mouth shape
``(open, spread, round)`` on 0..1 scales, a coarse version of the classic viseme classes
(bilabials closed; labiodentals nearly closed; open vowels widest; front vowels spread;
rounded vowels and /w ʃ ɹ/ rounded). The values are this project's choice, written from
articulatory phonetics, not fitted to any recording. Prosodic tokens are resolved in context:
stress marks take the next phoneme's shape (with a +15 % opening for the stressed syllable),
the length mark extends the previous one, a word boundary holds the mean of its neighbours, and
punctuation or sentence edges close the mouth. Targets are sampled at frame centres and smoothed
by a critically damped zero-phase low-pass (the procedural baseline's ``_smooth``), so the mouth
anticipates the next sound as real mouths do.

>>> m = mouth_targets([("^", 0.0, 0.1), ("ɑ", 0.1, 0.4), ("m", 0.4, 0.5), ("$", 0.5, 0.6)], 15, 25.0)
>>> bool(m["jaw_open"][5] > m["jaw_open"][0])
True
"""

from __future__ import annotations

import numpy as np

from forgebench.generator.motion.procedural import _smooth

# token -> (open, spread, round)
VISEMES: dict[str, tuple[float, float, float]] = {
    # open vowels
    **{v: (1.0, 0.3, 0.0) for v in "ɑaæʌɐ"},
    **{v: (0.85, 0.1, 0.5) for v in "ɔɒ"},
    # mid vowels
    **{v: (0.65, 0.5, 0.0) for v in "ɛeɜɚə"},
    # close front vowels: spread lips
    **{v: (0.35, 1.0, 0.0) for v in "iɪᵻy"},
    # close back / rounded vowels
    **{v: (0.4, 0.0, 1.0) for v in "uʊoɵ"},
    # bilabials: lips shut
    **{c: (0.0, 0.2, 0.0) for c in "pbm"},
    # labiodentals: lower lip to teeth
    **{c: (0.08, 0.3, 0.0) for c in "fv"},
    # dentals / alveolars
    **{c: (0.2, 0.4, 0.0) for c in "θðtdnlszɾ"},
    # postalveolars: rounded, protruded
    **{c: (0.2, 0.0, 0.7) for c in "ʃʒ"},
    "ɹ": (0.25, 0.0, 0.5),
    "w": (0.15, 0.0, 1.0),
    "j": (0.25, 0.7, 0.0),
    "h": (0.45, 0.3, 0.0),
    **{c: (0.3, 0.4, 0.0) for c in "kgŋx"},
    "ʔ": (0.1, 0.3, 0.0),
}
REST = (0.0, 0.3, 0.0)
PAUSES = set(".,;:!?—-…\"'()^$")
STRESS = {"ˈ", "ˌ"}
LENGTH = "ː"
BOUNDARY = " "


def _resolve(phonemes: list[tuple[str, float, float]]) -> list[tuple[tuple[float, float, float], float, float]]:
    """Each row's target shape, with prosodic tokens resolved from their neighbours."""
    base: list[tuple[float, float, float] | None] = []
    for token, _, _ in phonemes:
        if token in PAUSES or token == "":
            base.append(REST)
        elif token in STRESS or token == LENGTH or token == BOUNDARY:
            base.append(None)
        else:
            base.append(VISEMES.get(token[0], (0.3, 0.4, 0.1)))  # unknown symbol: a neutral consonant
    shapes = list(base)
    n = len(shapes)
    for i, (token, _, _) in enumerate(phonemes):
        if base[i] is not None:
            continue
        nxt = next((base[j] for j in range(i + 1, n) if base[j] is not None), REST)
        prv = next((shapes[j] for j in range(i - 1, -1, -1) if shapes[j] is not None), REST)
        if token in STRESS:
            shapes[i] = nxt
        elif token == LENGTH:
            shapes[i] = prv
        else:
            shapes[i] = tuple(0.5 * (a + b) for a, b in zip(prv, nxt))  # type: ignore[assignment]
    # Stressed syllables open wider: the vowel following a stress mark (within 3 tokens).
    out = []
    boost = 0
    for i, (token, s, e) in enumerate(phonemes):
        shape = shapes[i]
        if token in STRESS:
            boost = 3
        elif boost:
            boost -= 1
            if token[0] in "ɑaæʌɐɔɒɛeɜɚəiɪᵻyuʊoɵ":
                shape = (min(1.2, shape[0] * 1.15), shape[1], shape[2])
                boost = 0
        out.append((shape, s, e))  # type: ignore[arg-type]
    return out


def mouth_targets(
    phonemes: list[tuple[str, float, float]], n_frames: int, fps: float, jaw_max: float = 0.22,
    spread_gain: float = 0.06, round_gain: float = 0.03, smooth_s: float = 0.03,
) -> dict[str, np.ndarray]:
    """Relative mouth offsets [n_frames] (IOD): ``jaw_open``, ``mouth_width``, ``pucker``.

    ``jaw_open`` = ``jaw_max * open``; ``mouth_width`` = ``spread_gain * (spread - 0.3) - 0.15 * jaw``
    (opening narrows the corners, as in the procedural baseline) minus ``round_gain`` per unit of
    rounding; ``pucker`` = ``round_gain * round``. Frames outside every phoneme are at rest.
    """
    rows = _resolve(phonemes)
    target = np.tile(np.array(REST, np.float64), (n_frames, 1))
    centres = (np.arange(n_frames) + 0.5) / fps
    if rows:
        starts = np.array([s for _, s, _ in rows])
        ends = np.array([e for _, _, e in rows])
        idx = np.searchsorted(starts, centres, side="right") - 1
        inside = (idx >= 0) & (centres < ends[np.clip(idx, 0, None)])
        shapes = np.array([shape for shape, _, _ in rows], np.float64)
        target[inside] = shapes[idx[inside]]
    smooth = np.stack([_smooth(target[:, k], smooth_s, fps) for k in range(3)], axis=1)
    jaw = jaw_max * smooth[:, 0]
    width = spread_gain * (smooth[:, 1] - REST[1]) - 0.15 * jaw - round_gain * smooth[:, 2]
    return {"jaw_open": jaw, "mouth_width": width, "pucker": round_gain * smooth[:, 2]}
