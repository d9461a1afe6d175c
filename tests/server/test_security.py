"""Token, path roots and path mapping: what keeps a server on a workstation from serving anyone or any file."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from server_support import TOKEN, interpolate_job, wait_job, write_plate

from dreamplate.server.security import (
    ForbiddenPathError,
    PathMap,
    PathPolicy,
    load_or_create_token,
    parse_map,
    token_matches,
    token_path,
)

GUARDED = [
    ("GET", "/v1/models"),
    ("GET", "/v1/ops"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs/abc"),
    ("POST", "/v1/jobs/abc/cancel"),
    ("GET", "/v1/jobs/abc/events"),
]


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_every_route_but_health_needs_the_token(api, method: str, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    api.headers.pop("Authorization")
    response = api.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["error"].startswith("missing or wrong token")
    assert response.headers["www-authenticate"] == "Bearer"
    assert api.get("/v1/health").status_code == 200


def test_token_comparison() -> None:
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"bearer  {TOKEN} ", TOKEN)
    assert not token_matches(f"Bearer {TOKEN}x", TOKEN)
    assert not token_matches(None, TOKEN)


def test_first_start_writes_a_private_token_file_and_later_starts_reuse_it(home: Path) -> None:
    first = load_or_create_token()
    assert first.created and first.source == str(home / "token") == str(token_path())
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
    assert len(first.value) >= 32
    again = load_or_create_token()
    assert (again.value, again.created) == (first.value, False)


def test_token_from_environment_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMPLATE_TOKEN", "from-env")
    token = load_or_create_token()
    assert (token.value, token.source, token.created) == ("from-env", "$DREAMPLATE_TOKEN", False)
    assert not (home / "token").exists()


@pytest.mark.parametrize("xdg", [None, "/tmp/some-xdg-config"])
def test_client_looks_for_the_token_where_the_server_writes_it(monkeypatch: pytest.MonkeyPatch, xdg) -> None:
    import dreamplate.client as client

    monkeypatch.delenv("DREAMPLATE_HOME", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert client.token_path() == token_path()
    monkeypatch.setenv("DREAMPLATE_HOME", "/tmp/dp-home")
    assert client.token_path() == token_path() == Path("/tmp/dp-home/token")


@pytest.mark.parametrize(
    ("rule", "client_path", "expected"),
    [
        ("Z:\\shows=/srv/shows", "Z:\\shows\\a\\plate.####.exr", "/srv/shows/a/plate.####.exr"),
        ("Z:\\shows=/srv/shows", "z:/shows/a/b.exr", "/srv/shows/a/b.exr"),
        ("Z:\\shows=/srv/shows", "Z:\\showsX\\b.exr", None),
        ("\\\\nas\\proj=/mnt/proj", "\\\\NAS\\proj\\s\\b.exr", "/mnt/proj/s/b.exr"),
        ("/Volumes/shows/=/srv/shows", "/Volumes/shows/a/b.exr", "/srv/shows/a/b.exr"),
        ("/Volumes/shows=/srv/shows", "/volumes/shows/a/b.exr", None),  # POSIX prefixes are case-sensitive
    ],
)
def test_path_map(rule: str, client_path: str, expected: str | None) -> None:
    assert parse_map(rule).apply(client_path) == expected


def test_longest_map_wins_and_malformed_maps_are_refused(tmp_path: Path) -> None:
    policy = PathPolicy([tmp_path], [PathMap("/Volumes/a", "/srv/a"), PathMap("/Volumes/a/b", "/fast/b")])
    assert policy.map_path("/Volumes/a/b/c.exr") == "/fast/b/c.exr"
    assert policy.map_path("/Volumes/a/x.exr") == "/srv/a/x.exr"
    for bad in ("nothing", "=/srv", "Z:\\=relative/path"):
        with pytest.raises(ValueError, match="--map"):
            parse_map(bad)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the root, holding a plate the server must never read."""
    folder = tmp_path / "outside"
    write_plate(folder, count=2)
    return folder


def _escapes(root: Path, outside: Path) -> dict[str, dict]:
    """Jobs that each try to reach `outside` one way; the output always stays in the root otherwise."""
    (root / "link").symlink_to(outside, target_is_directory=True)
    frames = root / "frames"
    frames.mkdir()
    (frames / "plate.1001.exr").symlink_to(outside / "plate.1001.exr")
    inside = write_plate(root / "plate", count=2)
    out = str(root / "out" / "o.####.exr")
    return {
        "absolute": interpolate_job(str(outside / "plate.####.exr"), out),
        "dotdot": interpolate_job(str(root / ".." / "outside" / "plate.####.exr"), out),
        "symlinked folder": interpolate_job(str(root / "link" / "plate.####.exr"), out),
        "symlinked frame": interpolate_job(str(frames / "plate.####.exr"), out),
        "relative": interpolate_job("plate/plate.####.exr", out),
        "output": interpolate_job(inside, str(outside / "new" / "o.####.exr")),
        "output dotdot": interpolate_job(inside, str(root / "out" / ".." / ".." / "outside" / "o.####.exr")),
        "output via link": interpolate_job(inside, str(root / "link" / "o.####.exr")),
        "retime map": {**interpolate_job(inside, out), "params": {"retime": str(outside / "map.txt")}},
        "relight matte": _relight(inside, out, mask=str(outside / "plate.####.exr")),
        "relight ocio": _relight(inside, out, ocio=str(outside / "config.ocio")),
        "sketch reference": {**_relight(inside, out), "task": "sketch", "params": _gen(light_reference=str(outside))},
        "keyframe key": {
            "task": "keyframes",
            "inputs": [str(root / "plate" / "plate.1001.exr"), str(outside / "plate.1002.exr")],
            "output": out,
            "params": _gen(keys={"1": str(root / "plate" / "plate.1001.exr"), "9": str(outside / "plate.1002.exr")}),
        },
    }


def _gen(**params: object) -> dict:
    return {"prompt": "p", "model": "m", **params}


def _relight(plate: str, out: str, **params: object) -> dict:
    return {"task": "relight", "inputs": [plate], "output": out, "params": {**_gen(), **params}}


@pytest.mark.parametrize(
    "case",
    [
        "absolute",
        "dotdot",
        "symlinked folder",
        "symlinked frame",
        "relative",
        "output",
        "output dotdot",
        "output via link",
        "retime map",
        "relight matte",
        "relight ocio",
        "sketch reference",
        "keyframe key",
    ],
)
def test_paths_outside_the_roots_are_refused_with_403_and_nothing_is_touched(
    api, root: Path, outside: Path, case: str
) -> None:
    job = _escapes(root, outside)[case]
    before = sorted(p.name for p in outside.rglob("*"))
    response = api.post("/v1/jobs", json=job)
    assert response.status_code == 403, response.json()
    error = response.json()["error"]
    assert "\n" not in error
    assert "outside the server's roots" in error or "must be an absolute path" in error
    assert api.get("/v1/jobs").json()["jobs"] == []
    assert sorted(p.name for p in outside.rglob("*")) == before  # nothing written there
    assert not (root / "out").exists()


def test_policy_names_the_path_and_what_it_resolves_to(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    policy = PathPolicy([root])
    with pytest.raises(ForbiddenPathError, match=r"input .*\.\./etc/x\.exr: resolves to .*etc/x\.exr, outside"):
        policy.check_path(str(root / ".." / "etc" / "x.exr"), "input")
    assert policy.check_path(str(root / "sub" / ".." / "x.exr"), "input") == str(root / "sub" / ".." / "x.exr")
    with pytest.raises(ForbiddenPathError, match="cannot be resolved"):
        policy.check_path(f"{root}/a\x00b.exr", "input")


def test_mapped_job_runs_on_the_server_paths(make_api, root: Path) -> None:
    write_plate(root / "shot", count=2)
    api = make_api(maps=[PathMap("S:\\proj", str(root))])
    job = interpolate_job("S:\\proj\\shot\\plate.####.exr", "s:/proj/shot/out/o.####.exr")
    response = api.post("/v1/jobs", json=job)
    assert response.status_code == 201, response.json()
    stored = wait_job(api, response.json()["id"])
    assert stored["state"] == "done", stored
    assert stored["spec"]["inputs"] == [str(root / "shot" / "plate.####.exr")]
    assert sorted(p.name for p in (root / "shot" / "out").iterdir()) == ["o.1001.exr", "o.1002.exr", "o.1003.exr"]


def test_path_settings_are_mapped_like_inputs(make_api, root: Path) -> None:
    api = make_api(maps=[PathMap("S:\\proj", str(root))])
    plate = write_plate(root / "shot", count=2)
    job = {
        "task": "relight",
        "inputs": ["S:\\proj\\shot\\plate.####.exr"],
        "output": "S:\\proj\\out\\o.####.exr",
        "params": {"strength": 0.0, "mask": "S:\\proj\\shot\\plate.####.exr"},
    }
    response = api.post("/v1/jobs", json=job)
    assert response.status_code == 201, response.json()
    stored = wait_job(api, response.json()["id"])
    assert stored["spec"]["params"]["mask"] == plate
    alpha = {**job, "params": {"strength": 0.0, "mask": "alpha"}}
    assert api.post("/v1/jobs", json=alpha).status_code == 201  # the plate's own alpha is not a file


def test_mapped_path_outside_the_roots_is_still_refused(make_api, root: Path, outside: Path) -> None:
    api = make_api(maps=[PathMap("S:\\proj", str(outside))])
    response = api.post("/v1/jobs", json=interpolate_job("S:\\proj\\plate.####.exr", str(root / "o.####.exr")))
    assert response.status_code == 403
    assert "mapped to" in response.json()["error"]


def test_roots_given_through_a_symlink_still_contain_their_files(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "alias")
    policy = PathPolicy([tmp_path / "alias"])
    assert policy.check_path(str(real / "a.exr"), "input") == str(real / "a.exr")


def test_serve_prints_a_new_token_once_and_warns_off_loopback(home: Path, root: Path, monkeypatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from dreamplate.cli import app

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.append(options))
    # The CLI sets up logging for the process; give the root logger back to pytest afterwards.
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    runner = CliRunner()
    first = runner.invoke(app, ["serve", "--root", str(root), "--host", "0.0.0.0", "--port", "9999"])
    assert first.exit_code == 0, first.output
    token = (home / "token").read_text().strip()
    assert f"new API token (saved to {home / 'token'}, mode 0600): {token}" in first.output
    assert "reachable from other machines" in first.output
    assert started[0]["host"] == "0.0.0.0" and started[0]["port"] == 9999
    second = runner.invoke(app, ["serve", "--root", str(root)])
    assert second.exit_code == 0
    assert token not in second.output and f"API token: from {home / 'token'}" in second.output
    assert "reachable from other machines" not in second.output and started[1]["host"] == "127.0.0.1"


def test_serve_refuses_a_missing_root_and_a_bad_map(home: Path, root: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from dreamplate.cli import app

    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    missing = CliRunner().invoke(app, ["serve", "--root", str(root / "nope")])
    assert missing.exit_code == 1 and "ERROR: --root" in missing.output and "not a folder" in missing.output
    bad_map = CliRunner().invoke(app, ["serve", "--root", str(root), "--map", "Z:"])
    assert bad_map.exit_code == 1 and "CLIENT_PREFIX=SERVER_PREFIX" in bad_map.output
