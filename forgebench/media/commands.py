"""``forgebench analyze``: any video -> MotionTrack (pose, expression, gaze per frame)."""

from __future__ import annotations

import argparse
from pathlib import Path

from forgebench.errors import InputError, NoFaceError


def cmd_analyze(args: argparse.Namespace) -> int:
    import numpy as np

    from forgebench.atomic import check_writable
    from forgebench.media.analyze import analyze_video
    from forgebench.media.video import probe_video

    out = check_writable(args.output)
    if out.suffix.lower() not in (".parquet", ".npz"):
        raise InputError(f"output {str(out)!r} must end in .parquet or .npz")
    probe_video(args.video)  # one-line error for a missing or unreadable file, before MediaPipe loads
    track = analyze_video(args.video, progress=not args.quiet)
    if track.n_frames and not track.valid.any():
        raise NoFaceError(f"no face found in any frame of {str(args.video)!r}: nothing to write")
    track.save(out)
    yaw, pitch, roll = (np.std(track.pose[track.valid, i]) for i in range(3))
    print(
        f"wrote {out}: {track.n_frames} frames at {track.fps:g} fps, face in {track.valid.mean():.0%}; "
        f"pose std yaw {yaw:.1f} deg, pitch {pitch:.1f} deg, roll {roll:.1f} deg"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="measure pose, expression and gaze per frame of a video",
        description=(
            "Track the largest face with MediaPipe's 478-point mesh and write a MotionTrack: head pose "
            "(yaw, pitch, roll in degrees, position, scale), named expression coefficients (jaw open, "
            "mouth width, pucker, smile, blinks, brow raise), gaze, and the landmarks."
        ),
    )
    p.add_argument("video", type=Path, help="input video")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .parquet or .npz")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_analyze)
