"""The bad-input battery: malformed inputs to every command.

Each case runs ``forgebench ...`` in process (``forgebench.cli.main``) and asserts one
``forgebench: error: ...`` line on stderr (no traceback, not the "unexpected ... bug" line), a
non-zero exit, and no file left in the output folder. Valid variants (CMYK, 16-bit, RGBA, palette
images, 8-bit and float audio) must succeed. A few cases run as real processes.

``{F}`` in an argument is the fixture folder (``conftest.bad``), ``{O}`` a fresh output folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forgebench.cli import main

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ("INFO:", "WARNING:", "W0000", "I0000", "E0000", "Traceback", "  File ")
GEN = ["--audio", "{F}/audio/speech.wav", "-o", "{O}/out.mp4", "--size", "64", "-q"]
IMG = ["--image", "{F}/img/face.png"]


def case(command: str, argv: str | list[str], expect: str = "", id: str = ""):  # noqa: A002
    args = argv.split() if isinstance(argv, str) else argv
    return pytest.param(args, expect, id=f"{command}: {id or ' '.join(args[1:])[:60]}")


BAD = [
    # -- generate: images ------------------------------------------------------------------------------------
    *(case("generate", ["generate", "--image", f"{{F}}/img/{name}", *GEN], expect, id=f"image {name}")
      for name, expect in [("empty.png", "image"), ("text.png", "not an image"), ("trunc.png", "image"),
                           ("bomb.png", "pixels"), ("wide.png", "image"), ("tiny.png", "64 px"),
                           ("noface.png", "no face"), ("missing.png", "does not exist"), ("folder.png", "folder")]),
    # -- generate: audio -------------------------------------------------------------------------------------
    *(case("generate", ["generate", *IMG, "--audio", f"{{F}}/audio/{name}", "-o", "{O}/out.mp4", "-q"], expect,
           id=f"audio {name}")
      for name, expect in [("empty.wav", "empty"), ("text.wav", "audio"), ("trunc.wav", "audio"),
                           ("nan.wav", "NaN"), ("inf.wav", ""), ("silent.wav", "silent"), ("hour.wav", ""),
                           ("image.wav", "audio"), ("missing.wav", "does not exist")]),
    # -- generate: options and outputs -----------------------------------------------------------------------
    *(case("generate", ["generate", *IMG, *GEN, *opt], expect, id=" ".join(opt))
      for opt, expect in [(["--size", "100000"], "size"), (["--size", "63"], "even"), (["--size", "0"], "size"),
                          (["--size", "-512"], "size"), (["--fps", "0"], "fps"), (["--fps", "nan"], "fps"),
                          (["--crf", "99"], "crf"), (["--motion", "nosuch"], "unknown motion"),
                          (["--preset", "warpspeed"], "preset"), (["--threads", "-3"], "threads"),
                          (["--crop", "torso"], "crop"), (["--seed", "x"], "seed")]),
    case("generate", ["generate", *IMG, "--audio", "{F}/audio/speech.wav", "-o", "{O}/out.avi"], ".mp4",
         id="output not .mp4"),
    case("generate", ["generate", *IMG, "--audio", "{F}/audio/speech.wav", "-o", "{O}"], "directory",
         id="output is a directory"),
    case("generate", ["generate", *IMG, "--audio", "{F}/audio/speech.wav", "-o", "{F}/afile.txt/out.mp4"], "",
         id="output under a file"),
    case("generate", ["generate", *IMG, "--audio", "{F}/audio/speech.wav", "-o", "/proc/forgebench/out.mp4"], "",
         id="output unwritable"),
    case("generate", ["generate", *IMG, *GEN, "--track", "{O}/track.csv"], "track", id="track suffix"),
    case("generate", ["generate", "--image", "{F}/img/face.png"], "required", id="missing arguments"),
    # -- generate --driving (reenactment) and dub ----------------------------------------------------------------
    *(case("generate --driving", ["generate", *IMG, "--driving", f"{{F}}/video/{name}", "-o", "{O}/out.mp4", "-q"],
           expect, id=f"driving {name}")
      for name, expect in [("empty.mp4", ""), ("text.mp4", ""), ("trunc.mp4", ""), ("audio_only.mp4", "video"),
                           ("missing.mp4", "does not exist"), ("folder.mp4", "folder")]),
    case("generate --driving", ["generate", *IMG, "--driving", "{F}/video/clip.mp4", "--audio",
                                "{F}/audio/speech.wav", "-o", "{O}/out.mp4"], "one of", id="--audio and --driving"),
    case("generate --driving", ["generate", *IMG, "--driving", "{F}/video/clip.mp4", "-o", "{O}/out.mp4",
                                "--preset", "warpspeed"], "preset", id="driving bad preset"),
    case("generate --driving", ["generate", "--image", "{F}/img/bomb.png", "--driving", "{F}/video/clip.mp4", "-o",
                                "{O}/out.mp4"], "pixels", id="driving bomb image"),
    *(case("dub", ["dub", "--video", f"{{F}}/video/{video}", "--audio", f"{{F}}/audio/{audio}", "-o",
                   "{O}/out.mp4", "-q", *extra], expect, id=f"{video} {audio} {' '.join(extra)}".strip())
      for video, audio, extra, expect in [
          ("text.mp4", "speech.wav", [], ""), ("empty.mp4", "speech.wav", [], ""),
          ("audio_only.mp4", "speech.wav", [], "video"), ("missing.mp4", "speech.wav", [], "does not exist"),
          ("clip.mp4", "text.wav", [], "audio"), ("clip.mp4", "nan.wav", [], "NaN"),
          ("clip.mp4", "silent.wav", [], "silent"), ("clip.mp4", "speech.wav", ["--motion", "nosuch"], "nosuch"),
          ("clip.mp4", "speech.wav", ["--crf", "77"], "crf"), ("clip.mp4", "speech.wav", ["--preset", "x"], "preset")]),
    case("dub", "dub --video {F}/video/clip.mp4 --audio {F}/audio/speech.wav -o {O}/out.webm", ".mp4",
         id="output not .mp4"),
    case("dub", "dub --video {F}/video/clip.mp4 --audio {F}/audio/speech.wav -o {O}/o.mp4 --track {O}/t.txt",
         "track", id="track suffix"),
    # -- analyze ---------------------------------------------------------------------------------------------
    *(case("analyze", ["analyze", f"{{F}}/video/{name}", "-o", "{O}/t.parquet", "-q"], expect, id=name)
      for name, expect in [("empty.mp4", ""), ("text.mp4", ""), ("trunc.mp4", ""), ("audio_only.mp4", "video"),
                           ("folder.mp4", "folder"), ("missing.mp4", "does not exist")]),
    case("analyze", "analyze {F}/video/clip.mp4 -o {O}/t.txt", "parquet", id="output suffix"),
    case("analyze", "analyze {F}/img/noface.png -o {O}/t.parquet", "", id="an image"),
    # -- score -----------------------------------------------------------------------------------------------
    case("score", "score {F}/video/text.mp4 -o {O}/s.parquet --metrics pose_diversity", "", id="not a video"),
    case("score", "score {F}/only_bad -o {O}/s.parquet --metrics pose_diversity", "", id="folder of broken videos"),
    case("score", "score {F}/audio -o {O}/s.parquet", "", id="folder without videos or images"),
    case("score", "score {F}/nowhere -o {O}/s.parquet", "does not exist", id="missing input"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --metrics nosuch", "unknown metric", id="unknown metric"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --metrics ,", "metric", id="empty metric list"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --max-frames 0", "max-frames", id="max-frames 0"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --max-frames -4", "max-frames", id="max-frames < 0"),
    case("score", "score {F}/video/clip.mp4 -o {O} --metrics pose_diversity", "directory", id="output a directory"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.csv --metrics pose_diversity", "parquet", id="output suffix"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --metrics fid --reference {F}/audio", "reference",
         id="reference without videos or images"),
    case("score", "score {F}/video/clip.mp4 -o {O}/s.parquet --metrics fid --reference {F}/nowhere", "reference",
         id="missing reference"),
    case("score", "score {F}/manifest/text.parquet -o {O}/s.parquet", "manifest", id="corrupt manifest"),
    case("score", "score {F}/manifest/no_path.parquet -o {O}/s.parquet", "path", id="manifest lacks path"),
    case("score", "score {F}/manifest/escape.parquet -o {O}/s.parquet --metrics pose_diversity", "",
         id="manifest paths to non-videos"),
    # -- detect ----------------------------------------------------------------------------------------------
    *(case("detect", ["detect", "{F}/video/clip.mp4", "--detector", f"{{F}}/det/{name}", "--plot", "{O}/p.png"],
           expect, id=f"detector {name}")
      for name, expect in [("missing", "detector"), ("empty", "detector directory"), ("badjson", "JSON"),
                           ("unknown", "no_such_detector"), ("format", "format"), ("list", "detector")]),
    case("detect", "detect {F}/video/text.mp4 --detector {F}/det/empty --plot {O}/p.png", "", id="not a video"),
    # -- provenance check ------------------------------------------------------------------------------------
    case("provenance", "provenance check {F}/video/text.mp4 -o {O}/p.csv", "", id="not a video"),
    case("provenance", "provenance check {F}/only_bad -o {O}/p.csv", "", id="folder of broken videos"),
    case("provenance", "provenance check {F}/audio -o {O}/p.csv", "", id="folder without videos"),
    case("provenance", "provenance check {F}/nowhere", "", id="missing"),
    case("provenance", "provenance check {F}/video/clip.mp4 --threshold 2", "threshold", id="threshold 2"),
    case("provenance", "provenance check {F}/video/clip.mp4 --max-seconds -1", "max-seconds", id="max-seconds < 0"),
    case("provenance", "provenance check {F}/video/clip.mp4 -o {O}/p.txt", "", id="output suffix"),
    case("provenance", ["provenance", "check", "{F}/video/clip.mp4", "--key", ""], "key", id="empty key"),
    # -- weights ---------------------------------------------------------------------------------------------
    case("weights", "weights fetch nosuch", "", id="fetch unknown"),
    case("weights", "weights fetch", "name", id="fetch nothing"),
    case("weights", "weights import nosuch {F}/afile.txt", "", id="import unknown name"),
    case("weights", "weights import fid_inception {F}/afile.txt", "", id="import wrong file"),
    case("weights", "weights import fid_inception {F}/nowhere.pth", "", id="import missing file"),
    case("weights", "weights verify nosuch", "", id="verify unknown"),
    # -- spec ------------------------------------------------------------------------------------------------
    *(case("spec", ["spec", "validate", f"{{F}}/spec/{name}"], expect, id=f"validate {name}")
      for name, expect in [("syntax.yaml", "YAML"), ("tag.yaml", ""), ("tag_value.yaml", ""),
                           ("unknown.yaml", "colour"), ("list.yaml", ""), ("empty.yaml", ""), ("binary.yaml", ""),
                           ("traversal.yaml", ""), ("absolute.yaml", ""), ("include_loop.yaml", "include"),
                           ("include_missing.yaml", "no_such_protocol"), ("huge_size.yaml", "size"),
                           ("bad_seed.yaml", "seed"), ("bad_split.yaml", ""), ("anchors.yaml", ""),
                           ("nowhere.yaml", "")]),
    case("spec", "spec show no_such_protocol", "no_such_protocol", id="show unknown"),
    case("spec", "spec validate {F}/afile.txt", "", id="validate a text file"),
    # -- corpus build and run --------------------------------------------------------------------------------
    case("corpus", "corpus build {F}/spec/unknown.yaml -o {O}/run", "colour", id="build bad spec"),
    case("corpus", "corpus build {F}/spec/tiny.yaml -o {F}/afile.txt", "", id="build into a file"),
    case("corpus", "corpus build {F}/spec/tiny.yaml -o {O}/run -j 0", "jobs", id="jobs 0"),
    case("corpus", "corpus build {F}/spec/tiny.yaml -o {O}/run --real {F}/nowhere", "", id="missing real folder"),
    case("corpus", "corpus build {F}/spec/tiny.yaml -o {O}/run --scheduler nonsense", "scheduler",
         id="bad scheduler address"),
    case("run", "run {F}/spec/syntax.yaml -o {O}/run", "YAML", id="bad spec"),
    case("run", "run {F}/spec/tiny.yaml -o {O}/run --epochs 0", "epochs", id="epochs 0"),
    case("run", "run {F}/spec/tiny.yaml -o {O}/run --device tpu", "device", id="unknown device"),
    # -- report ----------------------------------------------------------------------------------------------
    case("report", "report {F}/run/notarun -o {O}/site", "run", id="a folder that is not a run"),
    case("report", "report {F}/nowhere -o {O}/site", "", id="missing run"),
    case("report", "report {F}/afile.txt -o {O}/site", "", id="a file"),
    case("report", "report {F}/run/notarun -o {O}/site --n-boot -1", "", id="n-boot < 0"),
    # -- leaderboard -----------------------------------------------------------------------------------------
    *(case("leaderboard", ["leaderboard", "init", "b", "--store", "{O}/store", "--manifest",
                           f"{{F}}/manifest/{name}", "--split", ""], expect, id=f"init {name}")
      for name, expect in [("text.parquet", ""), ("missing_cols.parquet", "label"), ("dup_ids.parquet", "duplicate"),
                           ("bad_label.parquet", "label"), ("one_class.parquet", "both"),
                           ("empty.parquet", "no usable"), ("nowhere.parquet", "")]),
    case("leaderboard", "leaderboard init BAD/NAME --store {O}/store --manifest {F}/manifest/good.parquet",
         "board name", id="init bad board name"),
    case("leaderboard", "leaderboard init b --store {O}/store --manifest {F}/manifest/good.parquet --split nope",
         "", id="init unknown split"),
    case("leaderboard", "leaderboard init b --store {O}/store --manifest {F}/manifest/good.parquet --n-boot -3",
         "", id="init n-boot < 0"),
    case("leaderboard", "leaderboard score b --store {O}/nostore", "store", id="score without a store"),
    case("leaderboard", "leaderboard team add b 'Team A' --store {O}/nostore".replace("'Team A'", "TeamA"), "store",
         id="team add without a store"),
    case("leaderboard", "leaderboard team revoke b TeamA --store {O}/nostore", "store", id="team revoke no store"),
    case("leaderboard", "leaderboard serve --store {O}/nostore --port 99999", "", id="serve bad port"),
    case("leaderboard", "leaderboard serve --store {O}/nostore --daily-limit -1", "", id="serve daily limit < 0"),
    case("leaderboard", "leaderboard submit b {F}/pred/binary.csv --team TeamA --method m --store {O}/nostore", "",
         id="submit binary file without a store"),
    case("leaderboard", "leaderboard publish b --store {O}/nostore -o {O}/pub", "store", id="publish without store"),
    # -- train / eval ----------------------------------------------------------------------------------------
    *(case("train", ["train", "detector", "dynamics", "--manifest", f"{{F}}/manifest/{name}", "--out", "{O}/det"],
           expect, id=f"detector on {name}")
      for name, expect in [("text.parquet", "Parquet"), ("missing_cols.parquet", "columns"),
                           ("dup_ids.parquet", "duplicate"), ("bad_label.parquet", "label"),
                           ("bad_split.parquet", "split"), ("disagree.parquet", "is_fake"),
                           ("shared_identity.parquet", "identity"), ("empty.parquet", ""),
                           ("bad_type.parquet", "type"), ("all_failed.parquet", ""), ("one_class.parquet", ""),
                           ("nowhere.parquet", "manifest")]),
    case("train", "train detector nosuch --manifest {F}/manifest/good.parquet --out {O}/det", "unknown detector",
         id="unknown detector"),
    case("train", "train detector dynamics --manifest {F}/manifest/good.parquet --out {O}/det --param x",
         "KEY=VALUE", id="param without ="),
    case("train", "train detector dynamics --manifest {F}/manifest/good.parquet --out {O}/det --param nope=1",
         "nope", id="unknown param"),
    case("train", "train detector dynamics --manifest {F}/manifest/good.parquet --out {F}/afile.txt", "",
         id="out is a file"),
    case("train", "train motion --data {F}/audio --out {O}/m --steps 1 --tts 0", "", id="motion without videos"),
    case("train", "train motion --out {O}/m --steps 0", "steps", id="motion steps 0"),
    case("train", "train motion --out {F}/afile.txt --steps 1 --tts 1", "folder", id="motion out a file"),
    case("eval", "eval detector {F}/det/empty --manifest {F}/manifest/good.parquet -o {O}/e", "detector",
         id="detector not a detector folder"),
    case("eval", "eval detector {F}/det/badjson --manifest {F}/manifest/good.parquet -o {O}/e", "JSON",
         id="detector bad config"),
    case("eval", "eval cross-generator dynamics --manifest {F}/manifest/good.parquet -o {O}/x", "generator",
         id="cross-generator with one generator"),
    case("eval", "eval motion --audio {F}/audio/text.wav", "", id="motion on text audio"),
    case("eval", "eval motion --audio {F}/audio/speech.wav --seeds 0", "seeds", id="motion seeds 0"),
    case("eval", "eval motion --audio {F}/audio/speech.wav --set oops", "KEY=VALUE", id="motion --set oops"),
    case("eval", "eval motion --audio {F}/audio/speech.wav --checkpoint {F}/det/empty", "checkpoint",
         id="motion bad checkpoint"),
    # -- bench -----------------------------------------------------------------------------------------------
    case("bench", "bench generate --size 7", "size", id="generate size 7"),
    case("bench", "bench generate --seconds -1", "seconds", id="generate seconds < 0"),
    case("bench", "bench generate --image {F}/img/text.png", "image", id="generate bad image"),
    case("bench", "bench motion --seconds 0", "seconds", id="motion seconds 0"),
    case("bench", "bench motion --repeats 0", "repeats", id="motion repeats 0"),
    case("bench", "bench provenance --clips 0", "clips", id="provenance clips 0"),
    case("bench", "bench provenance --attacks nosuch", "nosuch", id="provenance unknown attack"),
    case("bench", "bench provenance --videos {F}/nowhere", "", id="provenance missing videos"),
    case("bench", "bench metrics --frames 1", "frames", id="metrics frames 1"),
    case("bench", "bench metrics --dirs {F}/nowhere {F}/nowhere2", "", id="metrics missing dirs"),
    case("bench", "bench lipsync --seconds 0", "seconds", id="lipsync seconds 0"),
    case("bench", "bench lipsync --video {F}/video/text.mp4", "", id="lipsync not a video"),
    case("bench", "bench corpus --clips 0", "clips", id="corpus clips 0"),
    case("bench", "bench corpus --sizes 8", "size", id="corpus size 8"),
    case("bench", "bench preprocess {F}/video/text.mp4", "", id="preprocess not a video"),
    case("bench", "bench preprocess {F}/video/clip.mp4 --frames 0", "frames", id="preprocess frames 0"),
    case("bench", "bench preprocess {F}/video/clip.mp4 --threads 0", "threads", id="preprocess threads 0"),
    # -- list and the parser ---------------------------------------------------------------------------------
    case("list", "list nothing", "invalid choice", id="unknown kind"),
    case("parser", "nosuch", "invalid choice", id="unknown command"),
    case("parser", "generate --imag x", "", id="misspelt option"),
    case("quickstart", "quickstart -o {F}/afile.txt", "", id="output a file"),
    case("quickstart", "quickstart -o {O}/q --real {F}/nowhere", "", id="missing real folder"),
]

VALID = [
    *(pytest.param(["generate", "--image", f"{{F}}/img/{name}", *GEN], id=f"generate image {name}")
      for name in ("cmyk.jpg", "rgba.png", "gray16.png", "palette.png")),
    *(pytest.param(["generate", *IMG, "--audio", f"{{F}}/audio/{name}", "-o", "{O}/out.mp4", "--size", "64", "-q"],
                   id=f"generate audio {name}") for name in ("u8.wav", "loud.wav")),
]


def _fill(args: list[str], fixture: Path, out: Path) -> list[str]:
    return [a.replace("{F}", str(fixture)).replace("{O}", str(out)) for a in args]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(("argv", "expect"), BAD)
def test_bad_input_gets_one_error_line_a_failing_exit_and_no_output(argv, expect, bad, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written to the current folder counts as left behind
    out = tmp_path / "out"
    out.mkdir()
    before = _files(bad)
    code = main(_fill(argv, bad, out))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("forgebench: error: ")]
    assert code != 0, err
    assert len(errors) == 1, lines
    assert not [line for line in lines if line.startswith(NATIVE)], lines  # other lines: per-file reasons
    assert "unexpected" not in errors[0] and "Traceback" not in err, errors[0]
    assert expect.lower() in errors[0].lower(), errors[0]
    assert _files(tmp_path) == [], "output left behind"
    assert _files(bad) == before, "the command wrote into its inputs' folder"


@pytest.mark.parametrize("argv", VALID)
def test_valid_variants_succeed(argv, bad, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code = main(_fill(argv, bad, out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "out.mp4").is_file()
    assert "forgebench: error" not in captured.err


def _process(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FORGEBENCH_VERBOSE", None)
    return subprocess.run([sys.executable, "-m", "forgebench", *argv], capture_output=True, text=True, env=env,
                          timeout=300)


def test_as_a_process_bad_input_is_one_line_on_stderr_and_nothing_else(bad, tmp_path):
    img = str(bad / "img" / "bomb.png")
    quiet = _process("generate", "--image", img, "--audio", str(bad / "audio" / "speech.wav"), "-o",
                     str(tmp_path / "o.mp4"))
    assert quiet.returncode == 2
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == [quiet.stderr.strip()]
    assert quiet.stderr.startswith("forgebench: error: ") and quiet.stdout == ""
    refused = _process("score", "--max-frames", "x", str(bad / "video"), "-o", str(tmp_path / "s.parquet"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_one_line_and_leaves_nothing(bad, tmp_path, capsys, monkeypatch):
    """ENOSPC at the final rename of an atomic write (what a full disk does to the last write of a command)."""
    import errno

    from forgebench import atomic

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    code = main(["provenance", "check", str(bad / "video" / "clip.mp4"), "-o", str(tmp_path / "p.csv")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("forgebench: error: ")]
    assert code != 0 and len(err) == 1 and "no space left" in err[0]
    assert _files(tmp_path) == []
