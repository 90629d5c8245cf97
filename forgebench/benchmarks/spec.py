"""Benchmark protocols: the YAML spec schema (pydantic v2, strict) and its loader.

A spec names everything a corpus is made of: identities, speech, generator
configurations, perturbations, real sources, splits, metrics and detectors.
Every model forbids unknown keys, so a typo is an error, not a silently ignored
option. A spec may ``include:`` another (a bundled name or a file): the two are
deep-merged, the child winning; lists are replaced, not concatenated.

Paths are relative to the file that declares them and must stay inside the
declared roots (the spec's own folder, its ``roots:`` entries and any root given
on the command line): a ``..`` escape or an absolute path elsewhere is refused.

>>> spec = load_spec("tiny")
>>> spec.name, [g.name for g in spec.generators]
('tiny', ['procedural-96'])
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from forgebench.errors import InputError

PROTOCOL_DIR = Path(__file__).parent / "protocols"
PATH_KEYS = ("path", "mapping", "cwd")  # keys whose string values are file-system paths
BUILTIN_VARIANTS = ("original", "mirror", "warm", "cool", "bright")


#: Seeds are non-negative (NumPy's generators refuse negative seeds) and fit in 64 bits.
Seed = Annotated[int, Field(ge=0, lt=2**63)]


def _miss(registry: Any, name: str) -> Exception:
    try:
        registry.get(name)
    except Exception as exc:  # UnknownNameError, with close names
        return exc
    return ValueError(name)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --- identities and speech ------------------------------------------------------------------------------------


class BuiltinIdentities(Strict):
    """The default portrait plus synthetic variants: ONE real person, never identity-disjoint data."""

    variants: list[Literal["original", "mirror", "warm", "cool", "bright"]] = ["original"]


class FolderSource(Strict):
    path: str  # a folder (each file one item, id = file stem)


class FrameOptions(Strict):
    """How a real clip gives identity portraits: which frame(s), and how they are framed."""

    at: float = Field(0.5, ge=0.0, le=1.0, description="where in the clip, as a fraction of its duration")
    per_identity: int = Field(1, ge=1, le=100, description="portraits per person: frames from its clips in turn")
    crop: Literal["none", "face"] = Field("none", description="face: the face square of normalize (face_scale)")
    face_scale: float = Field(1.8, ge=1.0, le=4.0)


class VideoFrameSource(FrameOptions):
    """Frames of each real identity found by a dataset adapter (same source_id as its real clips).

    The clips of a person are taken in path order (deterministic); portrait k comes from clip
    k mod n. One portrait per person by default, however many clips the person has.
    """

    adapter: str = "generic"
    path: str
    params: dict[str, Any] = {}


class Identities(Strict):
    builtin: BuiltinIdentities | None = None
    folders: list[FolderSource] = []
    video_frames: list[VideoFrameSource] = []
    from_real: FrameOptions | None = Field(None, description="portraits from the spec's real sources and --real")

    @model_validator(mode="after")
    def _some(self) -> Identities:
        if self.builtin is None and not self.folders and not self.video_frames and self.from_real is None:
            raise ValueError("give at least one of builtin, folders, video_frames, from_real")
        return self


class SyntheticSpeech(Strict):
    """Speech-like test signals (not speech): for tests only."""

    count: int = Field(1, ge=1, le=1000)
    seconds: float = Field(1.0, gt=0.0, le=60.0)


class TTSSpeech(Strict):
    voices: list[str] = ["joe"]
    variants: list[str] = ["neutral"]  # names in forgebench.media.tts.VOICE_VARIANTS
    texts: list[str] = Field(min_length=1)
    seed: Seed = 0

    @field_validator("variants")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        from forgebench.media.tts import VOICE_VARIANTS

        bad = [x for x in v if x not in VOICE_VARIANTS]
        if bad:
            raise ValueError(f"unknown voice variant {bad[0]!r}; expected one of {', '.join(VOICE_VARIANTS)}")
        return v


class RealAudio(Strict):
    """The sound track of every real clip (spec ``real:`` and ``--real``): speech of the person in the clip."""

    start: float = Field(0.0, ge=0.0, description="seconds skipped at the start of each clip")


class Speech(Strict):
    synthetic: SyntheticSpeech | None = None
    tts: TTSSpeech | None = None
    folders: list[FolderSource] = []
    from_real: RealAudio | None = None
    max_seconds: float | None = Field(None, gt=0.0, description="cut every audio to at most this long")

    @model_validator(mode="after")
    def _some(self) -> Speech:
        if self.synthetic is None and self.tts is None and not self.folders and self.from_real is None:
            raise ValueError("give at least one of synthetic, tts, folders, from_real")
        return self


# --- generators -----------------------------------------------------------------------------------------------


class ForgebenchParams(Strict):
    motion: str = "procedural"  # checked against the motion registry at build time
    seeds: list[Seed] = [0]
    size: int = Field(256, ge=64, le=2048)
    fps: float = Field(25.0, ge=1.0, le=120.0)
    crop: Literal["face", "full"] = "face"
    crf: int = Field(18, ge=0, le=51)
    preset: str = "veryfast"
    motion_params: dict[str, Any] = {}  # e.g. cfg_scale for the diffusion model
    controls: dict[str, Any] = {}  # per-call controls (gaze, distance, emotion)

    @field_validator("size")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 yuv420p)")
        return v


class CommandParams(Strict):
    cmd: list[str] = Field(min_length=1)  # placeholders {image} {audio} {out}
    cwd: str | None = None
    timeout: float = Field(600.0, gt=0.0)
    seeds: list[Seed] = [0]  # passed as {seed} when the template uses it

    @field_validator("cmd")
    @classmethod
    def _placeholders(cls, v: list[str]) -> list[str]:
        if not any("{out}" in a for a in v):
            raise ValueError("the command template must contain {out}")
        return v


class FolderParams(Strict):
    path: str  # folder of already generated fakes
    mapping: str  # CSV: file,source_id,audio_id


class ForgebenchGenerator(Strict):
    name: str
    kind: Literal["forgebench"]
    params: ForgebenchParams = ForgebenchParams()


class CommandGenerator(Strict):
    name: str
    kind: Literal["command"]
    params: CommandParams


class FolderGenerator(Strict):
    name: str
    kind: Literal["folder"]
    params: FolderParams


class SelfBlendParams(Strict):
    """Pseudo-fakes from real clips: each real clip blended with a transformed copy of itself (SBI, for video).

    See :mod:`forgebench.benchmarks.selfblend`. ``region``: ``face`` (the mesh hull) or ``mouth``
    (the lower face: a lip-sync dub's footprint). ``lag``: the copy comes from another moment of the
    clip (a mouth out of sync with the speech). Parameters are drawn per clip from the seed.
    """

    region: Literal["face", "mouth"] = "face"
    seeds: list[int] = [0]
    scale: float = Field(0.03, ge=0.0, le=0.2, description="max relative scale change of the copy")
    shift: float = Field(0.02, ge=0.0, le=0.2, description="max translation of the copy, fraction of the face")
    color: float = Field(0.06, ge=0.0, le=0.5, description="max per-channel gain/offset jitter")
    blend: tuple[float, float] = Field((0.25, 1.0), description="range of the blend ratio inside the mask")
    drift: float = Field(0.2, ge=0.0, le=1.0, description="how far parameters drift over the clip (0: constant)")
    lag: tuple[int, int] = Field((0, 0), description="frames: the copy comes from t +- lag (desynchronised mouth)")


class SelfBlendGenerator(Strict):
    name: str
    kind: Literal["selfblend"]
    params: SelfBlendParams = SelfBlendParams()


class VideoSource(Strict):
    """Videos for the video-driven families: the real clips a dataset adapter finds, or every video in a folder."""

    path: str
    adapter: str | None = Field(None, description="a dataset adapter (its real clips); none: every video in path")
    params: dict[str, Any] = {}

    @field_validator("adapter")
    @classmethod
    def _registered(cls, v: str | None) -> str | None:
        from forgebench.benchmarks.datasets import dataset_registry

        if v is not None and v not in dataset_registry:
            raise ValueError(str(_miss(dataset_registry, v)))
        return v


Videos = Literal["real"] | list[VideoSource]  # "real": the spec's real sources and --real folders


class ReenactmentParams(Strict):
    """Portraits (the spec's identities) moved by driving videos (``forgebench generate --driving``)."""

    driving: Videos = "real"
    pairing: Literal["cycle", "own"] = Field("cycle", description="cycle: identity i driven by clips i, i+1, ... "
                                             "(per_identity); own: every clip of the identity's own person")
    per_identity: int = Field(1, ge=1, le=100, description="driving clips per identity (cycle: the next ones)")
    max_videos: int | None = Field(None, ge=1, description="use at most this many driving clips (path order)")
    size: int = Field(256, ge=64, le=2048)
    crop: Literal["face", "full"] = "face"
    max_seconds: float = Field(5.0, gt=0.0, le=600.0, description="use at most this much of each driving clip")
    mute: bool = Field(False, description="leave out the driving clip's audio")
    crf: int = Field(18, ge=0, le=51)
    preset: str = "veryfast"

    @field_validator("size")
    @classmethod
    def _even(cls, v: int) -> int:
        return ForgebenchParams._even(v)


class DubbingParams(Strict):
    """Real videos re-synced to the spec's speech (``forgebench dub``); each output is as long as its speech."""

    videos: Videos = "real"
    motion: str = "procedural"  # checked against the motion registry at build time
    seeds: list[int] = [0]
    pairing: Literal["cycle", "all", "own"] | None = Field(
        None, description="videos x speech; own: each video with the next track of its own person (one dub per "
                          "video, cut to the video's length); none: the spec's pairing")
    max_videos: int | None = Field(None, ge=1, description="use at most this many videos (path order)")
    crf: int = Field(18, ge=0, le=51)
    preset: str = "veryfast"


class ReenactmentGenerator(Strict):
    name: str
    kind: Literal["reenactment"]
    params: ReenactmentParams = ReenactmentParams()


class DubbingGenerator(Strict):
    name: str
    kind: Literal["dubbing"]
    params: DubbingParams = DubbingParams()


Generator = Annotated[ForgebenchGenerator | CommandGenerator | FolderGenerator | SelfBlendGenerator
                      | ReenactmentGenerator | DubbingGenerator, Field(discriminator="kind")]


# --- perturbations, real sources, splits ----------------------------------------------------------------------


class PerturbationSpec(Strict):
    name: str  # a registered perturbation, or several joined by '+' (applied left to right)
    levels: list[int] = [1, 2, 3, 4, 5]

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if not v or any(not 1 <= x <= 5 for x in v):
            raise ValueError("levels must be a non-empty list of integers 1-5")
        return sorted(set(v))

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        from forgebench.benchmarks.perturb import perturbation_registry

        for part in v.split("+"):
            if part not in perturbation_registry:
                raise ValueError(str(_miss(perturbation_registry, part)))
        return v


class RealSource(Strict):
    adapter: str = "generic"
    path: str
    params: dict[str, Any] = {}

    @field_validator("adapter")
    @classmethod
    def _registered(cls, v: str) -> str:
        from forgebench.benchmarks.datasets import dataset_registry

        if v not in dataset_registry:
            raise ValueError(str(_miss(dataset_registry, v)))
        return v


class Normalize(Strict):
    """Re-encode every clip taken from files (real datasets, folders of fakes) like forgebench's own clips.

    Without it those clips keep their own codec, size and frame rate, which a detector
    can learn instead of the manipulation (see docs/detectors.md, shortcuts).
    """

    size: int | None = Field(None, ge=64, description="square side: crop, then resize; none keeps the size")
    fps: float | None = Field(None, ge=1.0, le=120.0, description="nearest-frame resampling; none keeps the rate")
    crf: int = Field(18, ge=0, le=51, description="H.264 CRF (forgebench's generator writes 18)")
    crop: Literal["centre", "face"] = Field("centre", description="face: one square per clip around the face")
    face_scale: float = Field(1.8, ge=1.0, le=4.0, description="face crop side / median face width")
    segment_seconds: float | None = Field(None, gt=0.0, description="cut each clip into segments this long")
    max_segments: int = Field(1, ge=1, le=100, description="at most this many segments per clip, evenly spread")
    generated: bool = Field(False, description="also re-encode generated clips with this final encode (crf)")
    bitrate: int | None = Field(None, ge=8, le=100000, description="kbit/s: one-pass average bitrate instead of crf")

    @field_validator("size")
    @classmethod
    def _even(cls, v: int | None) -> int | None:
        if v is not None and v % 2:
            raise ValueError("must be even (H.264 yuv420p)")
        return v

    def segments(self, duration: float) -> list[tuple[float, float | None]]:
        """(start, seconds) of the segments of a clip ``duration`` seconds long.

        Without ``segment_seconds``: the whole clip. Otherwise ``min(max_segments, duration //
        segment_seconds)`` non-overlapping segments, evenly spread from the start to the end of the
        clip (so a long clip gives segments from all of it, not only its beginning); a clip shorter
        than one segment is one segment of its own length.
        """
        seg = self.segment_seconds
        if not seg:
            return [(0.0, None)]
        n = min(self.max_segments, int(np.floor(duration / seg + 1e-6)))
        if n <= 1:
            return [(0.0, seg if duration >= seg - 1e-6 else None)]
        starts = np.linspace(0.0, duration - seg, n)
        # round to the millisecond: the starts are part of the content ids, and must not depend on float noise
        return [(round(float(s), 3), seg) for s in starts]

    def settings(self) -> dict[str, Any]:
        """What determines a normalized clip's bytes (its content id); old specs keep their old ids."""
        out = {"size": self.size, "fps": self.fps, "crf": self.crf}
        if self.crop != "centre":
            out.update(crop=self.crop, face_scale=self.face_scale)
        if self.bitrate:
            out.update(bitrate=self.bitrate)
        return out


class Splits(Strict):
    train: float = Field(0.7, ge=0.0, le=1.0)
    val: float = Field(0.15, ge=0.0, le=1.0)
    test: float = Field(0.15, ge=0.0, le=1.0)
    seed: Seed = 0
    mode: Literal["identity", "official"] = "identity"

    @model_validator(mode="after")
    def _sum(self) -> Splits:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:g}")
        return self


class Spec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: int | str = 1
    description: str = ""
    seed: Seed = 0
    source_date_epoch: int = Field(1704067200, ge=0, description="container timestamps: same spec, same bytes")
    roots: list[str] = []
    identities: Identities | None = None
    speech: Speech | None = None
    generators: list[Generator] = []
    pairing: Literal["cycle", "all", "own"] = "cycle"
    perturbations: list[PerturbationSpec] = []
    real: list[RealSource] = []
    normalize: Normalize | None = None
    splits: Splits = Splits()
    metrics: list[str] = []
    detectors: list[str] = []

    @model_validator(mode="after")
    def _unique_generators(self) -> Spec:
        names = [g.name for g in self.generators]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"generator names must be unique; {sorted(dup)[0]!r} appears twice")
        animated = [g.name for g in self.generators if g.kind in ("forgebench", "command")]
        if animated and (self.identities is None or self.speech is None):
            missing = "identities" if self.identities is None else "speech"
            raise ValueError(f"generator {animated[0]!r} animates portraits with speech: the spec needs "
                             f"'{missing}:' (a spec with only real: sources, folders of fakes or selfblend needs "
                             "neither)")
        for g in self.generators:
            needs = {"reenactment": ("identities", "moves portraits"), "dubbing": ("speech", "dubs with speech")}
            if g.kind in needs and getattr(self, needs[g.kind][0]) is None:
                key, what = needs[g.kind]
                raise ValueError(f"generator {g.name!r} {what}: the spec needs '{key}:'")
        return self

    def spec_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


# --- loading --------------------------------------------------------------------------------------------------


def bundled_specs() -> list[str]:
    """Names of the specs shipped in ``forgebench/benchmarks/protocols``."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def locate(name_or_file: str | Path, relative_to: Path | None = None) -> Path:
    """A bundled name or a file path -> the YAML file."""
    p = Path(name_or_file)
    if relative_to is not None and not p.is_absolute() and (relative_to / p).is_file():
        return (relative_to / p).resolve()
    if p.is_file():
        return p.resolve()
    if (PROTOCOL_DIR / f"{name_or_file}.yaml").is_file():
        return PROTOCOL_DIR / f"{name_or_file}.yaml"
    raise InputError(f"no spec file or bundled spec named {str(name_or_file)!r}: bundled specs are "
                     f"{', '.join(bundled_specs())}; or give a YAML file")


def deep_merge(base: dict, child: dict) -> dict:
    """Child wins; nested dicts merge; lists and scalars replace."""
    out = dict(base)
    for k, v in child.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # safe_load: YAML never executes code
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise InputError(f"cannot read spec {str(path)!r} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: a spec is a YAML file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a spec must be a YAML mapping (name: ..., identities: ...), got "
                         f"{type(data).__name__}")
    return data


def _absolutize(node: Any, base: Path, file: Path, roots: list[Path], keypath: str = "") -> Any:
    """Resolve path-valued keys against ``base`` and check each stays inside ``roots``."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            kp = f"{keypath}.{k}" if keypath else str(k)
            if k in PATH_KEYS and isinstance(v, str) and not kp.endswith("params.cmd"):
                out[k] = str(check_inside((base / v).resolve(), roots, file, kp, v))
            else:
                out[k] = _absolutize(v, base, file, roots, kp)
        return out
    if isinstance(node, list):
        return [_absolutize(v, base, file, roots, f"{keypath}[{i}]") for i, v in enumerate(node)]
    return node


def check_inside(path: Path, roots: list[Path], file: Path | str, keypath: str, raw: str) -> Path:
    if not any(path == r or r in path.parents for r in roots):
        raise InputError(f"{file}: {keypath}: path {raw!r} resolves to {str(path)!r}, outside the declared roots "
                         f"({', '.join(str(r) for r in roots)}); add a root with 'roots:' or --root")
    return path


def _load_raw(path: Path, extra_roots: list[Path], seen: tuple[Path, ...]) -> dict:
    if path in seen:
        raise InputError(f"{path}: include cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    data = _read_yaml(path)
    base = path.parent
    raw_roots = data.get("roots", []) or []
    if not isinstance(raw_roots, list) or not all(isinstance(r, str) for r in raw_roots):
        raise InputError(f"{path}: roots: expected a list of folder paths")
    roots = [base.resolve(), *[(base / r).resolve() for r in raw_roots], *extra_roots]
    data = _absolutize(data, base, path, roots)
    data["roots"] = [str(r) for r in roots[1:1 + len(raw_roots)]]
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str):
        raise InputError(f"{path}: include: expected a bundled spec name or a file path, got {include!r}")
    parent = _load_raw(locate(include, relative_to=base), extra_roots, (*seen, path))
    merged = deep_merge(parent, data)
    merged["roots"] = sorted(set(parent.get("roots", [])) | set(data.get("roots", [])))
    return merged


def _keypath(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("forgebench", "command", "folder", "selfblend", "reenactment", "dubbing") \
                and out.startswith("generators"):
            continue  # the discriminated union's tag adds nothing for the reader
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def format_validation_error(exc: ValidationError, file: Path | str) -> str:
    """The first error as one line: file, key path, what was expected."""
    err = exc.errors()[0]
    kp = _keypath(tuple(err["loc"]))
    if err["type"] == "extra_forbidden":
        return f"{file}: {kp}: unknown key; check the spelling (spec reference: docs/benchmarks.md)"
    if err["type"] == "missing":
        return f"{file}: {kp}: required key is missing"
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    got_txt = f" (got {got!r})" if got is not None and not isinstance(got, dict | list) else ""
    more = f"; {len(exc.errors()) - 1} more error(s)" if len(exc.errors()) > 1 else ""
    return f"{file}: {kp}: {msg}{got_txt}{more}"


def load_spec(name_or_file: str | Path, roots: list[str | Path] | None = None) -> Spec:
    """Load, resolve ``include:``, check paths against roots, validate. Errors are one :class:`InputError` line."""
    path = locate(name_or_file)
    extra = [Path(r).resolve() for r in roots or []]
    data = _load_raw(path, extra, ())
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, path)) from None


def spec_yaml(spec: Spec) -> str:
    """The resolved spec as YAML (what ``forgebench spec show`` prints and a run records)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
