"""Embedded default inputs for ``forgebench quickstart``: a portrait, a script, its speech, a sung test signal.

Everything here is public domain or made by this project, so quickstart runs on a
fresh machine with no user files and no downloads:

* :func:`default_portrait`: NASA's astronaut portrait (Eileen Collins, public
  domain) as shipped in ``skimage.data``, framed as a talking head.
* :data:`DEFAULT_SCRIPT`: a short paragraph written for this project.
* :func:`default_speech`: that paragraph spoken by the bundled Piper voice, cached
  as a WAV under ``$FORGEBENCH_HOME/defaults/`` so it is synthesised once.
* :func:`sung_demo_audio`: a synthetic sung vowel melody (not a human recording)
  for checking the generator on singing rather than speech.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from forgebench.atomic import atomic_output
from forgebench.media.tts import SAMPLE_RATE, Speech, find_voice, piper_version, synthesize
from forgebench.paths import forgebench_home

PORTRAIT_SIZE = 512

# Crop box (x0, y0, side) in skimage.data.astronaut() (512x512). Derived once with MediaPipe FaceMesh
# (static_image_mode, refine_landmarks): the mesh spans x 179..271 (face width 92 px, cheek 234 to
# cheek 454), y 71..177 (forehead 10 to chin 152), centre (224, 124). A 240 px side puts the face at
# 92/240 = 38% of the crop width; x0 = 224 - 120 centres it; y0 = 8 leaves headroom above the hair and
# keeps the suit's neck ring as shoulders. The image is fixed, so the box is too.
_CROP = (104, 8, 240)

DEFAULT_SCRIPT = (
    "Good morning, and thank you for joining me. Today I want to share a quick idea: very small changes, "
    "made every day, can shape a much bigger future. So pick one thing, just one, and begin it before lunch."
)
DEFAULT_VOICE = "joe"
DEFAULT_SEED = 0
_CACHE_FORMAT = 1  # bump when the cached files' layout or the synthesis code changes what they contain


def default_portrait() -> np.ndarray:
    """The default source image: ``(512, 512, 3)`` uint8 RGB, one frontal face ~38% of the width."""
    import skimage.data
    import skimage.transform

    x0, y0, side = _CROP
    crop = skimage.data.astronaut()[y0:y0 + side, x0:x0 + side]
    # Bicubic upsampling (240 -> 512); no anti-aliasing filter is needed when enlarging.
    out = skimage.transform.resize(crop, (PORTRAIT_SIZE, PORTRAIT_SIZE), order=3, anti_aliasing=False)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def default_speech(cache: bool = True) -> Speech:
    """:data:`DEFAULT_SCRIPT` spoken by the joe voice (seed :data:`DEFAULT_SEED`), 16 kHz.

    Cached as ``speech-<key>.wav`` (float32, so a cache hit is bit-identical) plus a
    ``.json`` with the phoneme timing, keyed by text, voice package, parameters,
    seed and piper version.
    """
    return cached_speech(DEFAULT_SCRIPT, DEFAULT_VOICE, seed=DEFAULT_SEED, cache=cache)


def cached_speech(text: str, voice: str = DEFAULT_VOICE, *, seed: int = DEFAULT_SEED, cache: bool = True,
                  **params: float) -> Speech:
    """:func:`~forgebench.media.tts.synthesize` with a disk cache under ``$FORGEBENCH_HOME/defaults/``."""
    info = find_voice(voice)
    key_src = {"format": _CACHE_FORMAT, "text": text, "voice": info.model, "package": info.package,
               "package_version": info.package_version, "piper": piper_version(), "seed": seed,
               "params": dict(sorted(params.items()))}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:20]
    wav_path = forgebench_home() / "defaults" / f"speech-{key}.wav"
    meta_path = wav_path.with_suffix(".json")
    if cache and wav_path.is_file() and meta_path.is_file():
        return _read(wav_path, meta_path)
    speech = synthesize(text, voice, seed=seed, **params)
    if cache:
        _write(speech, wav_path, meta_path)
    return speech


def _write(speech: Speech, wav_path: Path, meta_path: Path) -> None:
    from scipy.io import wavfile

    with atomic_output(wav_path) as tmp:
        wavfile.write(tmp, speech.sample_rate, speech.audio.astype(np.float32))
    # The JSON is written last: a cache entry counts only when both files exist.
    meta = {"text": speech.text, "voice": speech.voice, "params": speech.params, "seed": speech.seed,
            "phonemes": [list(p) for p in speech.phonemes]}
    with atomic_output(meta_path) as tmp:
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=0), encoding="utf-8")


def _read(wav_path: Path, meta_path: Path) -> Speech:
    from scipy.io import wavfile

    rate, audio = wavfile.read(wav_path)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return Speech(audio=np.asarray(audio, dtype=np.float32), sample_rate=int(rate),
                  phonemes=[(str(p), float(s), float(e)) for p, s, e in meta["phonemes"]], text=meta["text"],
                  voice=meta["voice"], params=meta["params"], seed=int(meta["seed"]))


# --- sung test signal -------------------------------------------------------------------------------------------

# Formant frequencies and bandwidths (Hz) of sung vowels for an adult male voice, after Peterson & Barney (1952)
# averages; enough to make the vowels distinct, not a model of any singer.
_VOWELS = {
    "ɑ": ((730, 1090, 2440), (90, 110, 160)),
    "i": ((270, 2290, 3010), (60, 100, 150)),
    "u": ((300, 870, 2240), (60, 90, 150)),
    "o": ((570, 840, 2410), (80, 90, 150)),
    "e": ((530, 1840, 2480), (70, 100, 150)),
}
# An original tune: (MIDI note, seconds, vowel). D3..D4, a baritone range near the joe voice's pitch.
_MELODY = [
    (50, 0.5, "ɑ"), (54, 0.5, "o"), (57, 0.5, "ɑ"), (62, 1.0, "e"), (60, 0.5, "i"), (57, 0.5, "o"),
    (59, 0.75, "u"), (55, 0.25, "ɑ"), (57, 1.0, "e"), (52, 0.5, "i"), (54, 0.5, "o"), (55, 0.5, "ɑ"),
    (50, 1.25, "o"),
]


def sung_demo_audio(seed: int = 0) -> Speech:
    """A synthetic sung vowel melody, ~8.2 s, 16 kHz, as a :class:`Speech` (``voice="synthetic-singer"``).

    What it is: additive source-filter synthesis. A glottal-like source (harmonics of
    f0 falling at -12 dB/octave) follows the melody with legato 60 ms glides and a
    5.5 Hz, +-0.4 semitone vibrato; each harmonic is weighted by three formant
    resonances that move smoothly between the vowels of :data:`_MELODY`; notes have
    40 ms attacks and release into short gaps; a little breath noise is mixed in.
    It has singing's long vowels, wide pitch range and vibrato, but no consonants or
    human voice quality: it tests robustness to sung-like input, not realism.
    ``phonemes`` gives each note's vowel and time span.
    """
    sr = SAMPLE_RATE
    rng = np.random.default_rng(seed)
    bounds = np.concatenate([[0.0], np.cumsum([d for _, d, _ in _MELODY])])
    n = int(round(bounds[-1] * sr))
    t = np.arange(n) / sr
    note = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, len(_MELODY) - 1)
    # Per-sample pitch (MIDI) and formants, smoothed so that notes glide and vowels morph.
    glide = np.ones(int(0.06 * sr)) / int(0.06 * sr)
    midi = np.convolve(np.array([m for m, _, _ in _MELODY], float)[note], glide, mode="same")
    midi += 0.4 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - bounds[note]) / 0.3, 0, 1)  # vibrato grows in
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    formants = np.stack([np.convolve(np.array([_VOWELS[v][0][i] for _, _, v in _MELODY], float)[note],
                                     glide, mode="same") for i in range(3)])
    bandwidths = np.array([_VOWELS[v][1] for _, _, v in _MELODY], float)[note].T
    phase = 2 * np.pi * np.cumsum(f0) / sr
    # Harmonic gains vary slowly (glides, vibrato, vowel morphs): evaluate them every 5 ms and interpolate.
    grid = np.arange(0, n, int(0.005 * sr))
    audio = np.zeros(n)
    for k in range(1, int(7000 / f0.min()) + 1):
        fk = k * f0[grid]
        gain = (fk < 7000) / k**2  # -12 dB/octave source slope; drop harmonics above 7 kHz (no aliasing)
        for F, B in zip(formants[:, grid], bandwidths[:, grid]):
            gain = gain * F**2 / np.sqrt((F**2 - fk**2) ** 2 + (fk * B) ** 2)  # 2nd-order resonance magnitude
        audio += np.interp(np.arange(n), grid, gain) * np.sin(k * phase)
    audio += 0.02 * np.std(audio) * rng.standard_normal(n)  # breath noise
    # Envelope: 40 ms attack at each note start, 80 ms release before a gap after every third note.
    env = np.ones(n)
    for i, (s, e) in enumerate(zip(bounds[:-1], bounds[1:])):
        a, b = int(s * sr), int(e * sr)
        att = min(int(0.04 * sr), b - a)
        env[a:a + att] *= np.linspace(0.2 if i % 3 else 0.0, 1.0, att)
        if i % 3 == 2 or i == len(_MELODY) - 1:
            rel = min(int(0.08 * sr), b - a)
            env[b - rel:b] *= np.linspace(1.0, 0.0, rel)
    audio *= env
    audio = (0.9 * audio / np.max(np.abs(audio))).astype(np.float32)
    phonemes = [(v, float(s), float(e)) for (_, _, v), s, e in zip(_MELODY, bounds[:-1], bounds[1:])]
    return Speech(audio=audio, sample_rate=sr, phonemes=phonemes, text="(sung vowels)", voice="synthetic-singer",
                  params={"melody": [m for m, _, _ in _MELODY]}, seed=seed)
