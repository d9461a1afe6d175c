"""The CLI is generated from the declarations: a new operation is a command, and today's invocations still parse."""

from __future__ import annotations

import json
import re

from ops_support import NAME, throwaway_op
from typer.testing import CliRunner

from dreamplate.cli import app, build_app
from dreamplate.cli.ops import _option_help
from dreamplate.ops import OPS
from dreamplate.ops.registry import describe_ops

runner = CliRunner()


def test_a_throwaway_operation_is_a_command_with_its_options() -> None:
    with throwaway_op():
        fresh = build_app()
        listing = runner.invoke(fresh, ["--help"], terminal_width=200)
        assert listing.exit_code == 0 and NAME in listing.output
        usage = runner.invoke(fresh, [NAME, "--help"], terminal_width=200)
        assert usage.exit_code == 0
        for option in ("--gain", "--passes", "--look", "--glow", "--matte", "--reference", "--float", "-o"):
            assert option in usage.output
        assert "Default: 1.5" in usage.output and "One of: soft, hard, neon" in usage.output
        refused = runner.invoke(fresh, [NAME, "p.####.exr", "-o", "o.####.exr", "--gain", "9"])
        assert refused.exit_code == 1 and "ERROR: --gain: input should be less than or equal to 4" in refused.output
    assert NAME not in runner.invoke(build_app(), ["--help"], terminal_width=200).output


def test_every_operation_has_a_command_and_tools_follow_them() -> None:
    listing = runner.invoke(app, ["--help"], terminal_width=200).output
    positions = [listing.index(f" {name} ") for name in [*OPS.names(), "info", "serve"]]
    assert positions == sorted(positions)


def test_ops_show_json_is_what_the_server_publishes() -> None:
    shown = runner.invoke(app, ["ops", "show", "relight", "--json"])
    assert shown.exit_code == 0
    published = next(op for op in describe_ops()["ops"] if op["name"] == "relight")
    assert json.loads(shown.output) == published
    listed = runner.invoke(app, ["ops", "list"]).output
    assert all(name in listed for name in OPS.names())
    unknown = runner.invoke(app, ["ops", "show", "paint"])
    assert unknown.exit_code == 1 and "ERROR: paint: unknown operation" in unknown.output


def test_old_flag_spellings_reach_the_spec(tmp_path) -> None:
    """`--float`, `--key F=IMG` (repeated), `--times a,b`, `--fps S:T` and `--size WxH` still mean what they meant;
    the errors name the option as typed."""
    bad_key = runner.invoke(app, ["keyframes", "--key", "1001", "-o", "k.####.exr", "--prompt", "p"])
    assert bad_key.exit_code == 1 and "ERROR: --key: expected FRAME=IMAGE such as 1001=key_a.exr" in bad_key.output
    bad_times = runner.invoke(app, ["interpolate", "a.exr", "b.exr", "--times", "x", "-o", "m.exr"])
    assert bad_times.exit_code == 1 and "ERROR: --times: give numbers separated by commas" in bad_times.output
    bad_fps = runner.invoke(app, ["interpolate", "p.####.exr", "--fps", "24:x", "-o", "m.####.exr"])
    assert bad_fps.exit_code == 1 and "ERROR: --fps: give SOURCE:TARGET" in bad_fps.output
    bad_size = runner.invoke(app, ["relight", "p.####.exr", "--size", "big", "-o", "o.####.exr", "--strength", "0"])
    assert bad_size.exit_code == 1 and "ERROR: --size: size must be WIDTHxHEIGHT" in bad_size.output
    generative = runner.invoke(app, ["interpolate", "a.exr", "b.exr", "--method", "generative", "-o", "g.####.exr"])
    assert generative.exit_code == 1 and "ERROR: --frames: with --method generative" in generative.output


def test_no_option_help_ends_in_an_empty_list_item() -> None:
    """A help ending in "..." came out as "none, . Default: zip." once the CLI closed its sentence."""
    for op in describe_ops()["ops"]:
        for field in op["fields"]:
            text = _option_help(field)
            assert not re.search(r",\s*\.(\s|$)", text), (op["name"], field["name"], text)
