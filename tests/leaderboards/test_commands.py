"""``forgebench leaderboard ...`` end to end through its argument parser."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from forgebench.cli import ArgumentParser
from forgebench.errors import InputError
from forgebench.leaderboards import commands


def main(argv):
    parser = ArgumentParser(prog="forgebench")  # the CLI's parser: a refused argument is one line
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_init_team_submit_publish_and_one_line_errors(tmp_path, capsys):
    n = 40
    y = np.tile([0, 1], n // 2)
    ids = [f"c{i:02d}" for i in range(n)]
    pd.DataFrame({"clip_id": ids, "label": y, "source_id": [f"p{i % 4}" for i in range(n)]}).to_csv(
        tmp_path / "m.csv", index=False)
    s = ["--store", str(tmp_path / "st")]
    assert main(["leaderboard", "init", "demo", "--manifest", str(tmp_path / "m.csv"), "--split", "",
                 "--n-boot", "10", "--private-fraction", "0.25", *s]) == 0
    assert "25% of the clips are private" in capsys.readouterr().out
    assert main(["leaderboard", "team", "add", "demo", "Team A", *s]) == 0
    token = re.search(r"fbt_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", capsys.readouterr().out).group(0)
    assert main(["leaderboard", "team", "list", "demo", *s]) == 0
    listing = capsys.readouterr().out
    assert "Team A" in listing and token.split(".")[1] not in listing
    pd.DataFrame({"clip_id": ids, "score": np.clip(y * 0.6 + 0.2, 0, 1)}).to_csv(tmp_path / "p.csv", index=False)
    assert main(["leaderboard", "submit", "demo", str(tmp_path / "p.csv"), "--team", "Team A", "--method", "m",
                 *s]) == 0
    assert "AUC 1.0000" in capsys.readouterr().out
    assert main(["leaderboard", "publish", "demo", "-o", str(tmp_path / "pub"), "--final", *s]) == 0
    assert "10 clips" in (tmp_path / "pub" / "demo-final.md").read_text()
    assert main(["leaderboard", "team", "revoke", "demo", "Team A", *s]) == 0
    capsys.readouterr()
    for argv, said in ((["leaderboard", "team", "revoke", "demo", "Team A", *s], "no team 'Team A' with a live"),
                       (["leaderboard", "publish", "nope", "-o", str(tmp_path), *s], "no board 'nope'")):
        with pytest.raises(InputError, match=re.escape(said)) as err:
            main(argv)
        assert "\n" not in str(err.value)
    for argv, said in ((["leaderboard", "serve", "--daily-limit", "0", *s], "--daily-limit: 0 is below 1"),
                       (["leaderboard", "serve", "--port", "70000", *s], "--port: 70000 is above 65535"),
                       (["leaderboard", "init", "b", "--manifest", "m.parquet", "--n-boot", "0", *s], "below 10")):
        with pytest.raises(SystemExit) as ex:  # argparse refuses out-of-range numbers before any work
            main(argv)
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert ex.value.code != 0 and len(err_lines) == 1 and said in err_lines[0]
