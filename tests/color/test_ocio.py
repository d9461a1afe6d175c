"""OCIO config resolution, input colour-space choice, output tags and conversions."""

import importlib.util
from pathlib import Path

import numpy as np
import OpenEXR
import PyOpenColorIO as ocio
import pytest

from dreamplate.color import ocio as color
from dreamplate.color.model_space import log_model_space
from dreamplate.errors import ColorError

REPO_ROOT = Path(__file__).resolve().parents[2]

AP0 = OpenEXR.colorInteropIDToChromaticities("lin_ap0_scene")
AP1 = OpenEXR.colorInteropIDToChromaticities("lin_ap1_scene")
REC709 = OpenEXR.colorInteropIDToChromaticities("lin_rec709_scene")

TINY_CONFIG = """ocio_profile_version: 2.1
name: {name}
roles:
  default: raw
  scene_linear: plate_linear
displays:
  sRGB:
    - !<View> {{name: Raw, colorspace: raw}}
colorspaces:
  - !<ColorSpace>
    name: raw
    isdata: true
  - !<ColorSpace>
    name: plate_linear
    aliases: [lin_ap1_scene]
"""


def _write_config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.ocio"
    path.write_text(TINY_CONFIG.format(name=name))
    return path


def _header(path: Path) -> dict:
    # The binding empties the header dict when its file closes, so copy it inside the block.
    with OpenEXR.File(str(path), header_only=True) as exr:
        return dict(exr.header())


@pytest.fixture(scope="module")
def cfg() -> color.ColorConfig:
    return color.load_config(str(REPO_ROOT / "ocio_configs" / "dreamplate.ocio"))


# --- config resolution -------------------------------------------------------------------------


def test_flag_beats_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("OCIO", str(_write_config(tmp_path, "from_env")))
    loaded = color.load_config(_write_config(tmp_path, "from_flag"))
    assert (loaded.origin, loaded.config.getName()) == ("--ocio", "from_flag")


def test_env_var_beats_project_config(tmp_path, monkeypatch):
    monkeypatch.setenv("OCIO", str(_write_config(tmp_path, "from_env")))
    loaded = color.load_config()
    assert (loaded.origin, loaded.config.getName()) == ("$OCIO", "from_env")


def test_project_config_is_used_without_flag_or_env_var(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    loaded = color.load_config()
    assert loaded.origin == "ocio_configs"
    assert Path(loaded.source) == REPO_ROOT / "ocio_configs" / "dreamplate.ocio"


def test_builtin_config_when_the_project_folder_is_absent(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    monkeypatch.setattr(color, "project_config_path", lambda: None)
    loaded = color.load_config()
    assert (loaded.origin, loaded.source) == ("builtin", "ocio://studio-config-latest")
    assert loaded.config.getName().startswith("studio-config-")


def test_empty_env_var_counts_as_unset(monkeypatch):
    monkeypatch.setenv("OCIO", "")
    assert color.load_config().origin == "ocio_configs"


def test_ocio_uri_survives_being_passed_as_a_path():
    loaded = color.load_config(Path("ocio://cg-config-latest"))
    assert loaded.source == "ocio://cg-config-latest"
    assert loaded.config.getName().startswith("cg-config-")


def test_loaded_config_is_cached_per_source(tmp_path):
    path = _write_config(tmp_path, "cached")
    assert color.load_config(path) is color.load_config(str(path))


def test_missing_flag_path_names_the_flag(tmp_path):
    with pytest.raises(ColorError, match=r"^--ocio .*nowhere\.ocio: no such OCIO config file"):
        color.load_config(tmp_path / "nowhere.ocio")


def test_missing_env_path_names_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("OCIO", str(tmp_path / "gone.ocio"))
    with pytest.raises(ColorError, match=r"^\$OCIO=.*gone\.ocio: no such OCIO config file; unset OCIO"):
        color.load_config()


def test_broken_config_file_is_a_color_error(tmp_path):
    path = tmp_path / "broken.ocio"
    path.write_text("ocio_profile_version: [2\n")
    with pytest.raises(ColorError, match=r"broken\.ocio: not a usable OCIO config"):
        color.load_config(path)


def test_describe_config_for_doctor(cfg):
    lines = color.describe_config(cfg).splitlines()
    assert lines == [
        "config       dreamplate_studio-config-v5.0.0_aces-v2.1_ocio-v2.6",
        f"from         --ocio ({cfg.source})",
        "scene_linear ACEScg",
        "spaces       58 colour spaces",
    ]


# --- the shipped config --------------------------------------------------------------------------


def _build_config_module():
    spec = importlib.util.spec_from_file_location("build_config", REPO_ROOT / "ocio_configs" / "build_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_config_is_what_the_script_builds():
    built = _build_config_module().build_config().serialize()
    assert built == (REPO_ROOT / "ocio_configs" / "dreamplate.ocio").read_text(encoding="utf-8")


def test_shipped_log_space_and_curve_match_the_model_space(cfg):
    ramp = np.concatenate([[-0.01, 0.0], np.logspace(-20, 16, 300, base=2.0)]).astype(np.float32)
    pixels = np.repeat(ramp[:, None], 3, axis=1).reshape(1, -1, 3)
    expected = log_model_space().encode(pixels)
    as_space = color.convert(cfg, pixels, "ACEScg", "dreamplate Log - ACEScg")
    curve = cfg.config.getProcessor("dreamplate Log - Curve", ocio.TRANSFORM_DIR_INVERSE)
    as_curve = pixels.copy()
    curve.getDefaultCPUProcessor().applyRGB(as_curve)
    assert np.abs(as_space - expected).max() < 1e-5
    assert np.abs(as_curve - expected).max() < 1e-6


# --- input colour space ----------------------------------------------------------------------------


def test_override_wins_over_header_and_accepts_aliases(cfg):
    choice = color.resolve_input_space(cfg, {"colorInteropID": "lin_ap0_scene"}, override="lin_rec709")
    assert choice == color.SpaceChoice("Linear Rec.709 (sRGB)", "--colorspace lin_rec709")


def test_unknown_override_lists_close_names(cfg):
    with pytest.raises(ColorError, match=r"^--colorspace 'ACEScgg': not a colour space in .*'ACEScg'"):
        color.resolve_input_space(cfg, {}, override="ACEScgg")


def test_interop_id_beats_chromaticities(cfg):
    choice = color.resolve_input_space(cfg, {"colorInteropID": "lin_ap1_scene", "chromaticities": AP0})
    assert choice == color.SpaceChoice("ACEScg", "colorInteropID lin_ap1_scene")


def test_unknown_interop_id_falls_through_to_chromaticities(cfg):
    choice = color.resolve_input_space(cfg, {"colorInteropID": "studio:plate_v3", "chromaticities": REC709})
    assert choice == color.SpaceChoice("Linear Rec.709 (sRGB)", "chromaticities match lin_rec709_scene")


@pytest.mark.parametrize(
    ("sample", "space", "reason"),
    [
        ("ScanLines/Carrots.exr", "ACES2065-1", "chromaticities match lin_ap0_scene"),
        ("Chromaticities/XYZ.exr", "CIE XYZ-D65 - Scene-referred", "chromaticities match lin_ciexyzd65_scene"),
        ("TestImages/WideColorGamut.exr", "Linear Rec.709 (sRGB)", "chromaticities match lin_rec709_scene"),
        ("Chromaticities/Rec709.exr", "ACEScg", "no colour metadata: scene_linear role"),
    ],
)
def test_real_files_resolve_by_their_header(cfg, shared_data, sample, space, reason):
    attributes = _header(shared_data / "exr" / sample)
    choice = color.resolve_input_space(cfg, attributes)
    assert (choice.name, choice.reason) == (space, reason)
    assert choice.fallback == (reason == "no colour metadata: scene_linear role")


def test_interop_id_found_as_alias_in_a_config_without_interop_ids(tmp_path):
    tiny = color.load_config(_write_config(tmp_path, "aliases_only"))
    assert color.resolve_input_space(tiny, {"colorInteropID": "lin_ap1_scene"}).name == "plate_linear"
    assert color.resolve_input_space(tiny, {"chromaticities": AP1}).name == "plate_linear"


def test_interop_id_matched_through_the_config_in_code():
    config = ocio.Config.CreateRaw()
    config.setMajorVersion(2)
    config.setMinorVersion(5)
    config.addColorSpace(ocio.ColorSpace(name="plate", interopID="lin_p3d65_scene"))
    config.setRole(ocio.ROLE_SCENE_LINEAR, "raw")
    in_code = color.ColorConfig(config=config, source="in code", origin="--ocio")
    assert color.resolve_input_space(in_code, {"colorInteropID": "lin_p3d65_scene"}).name == "plate"
    assert color.resolve_input_space(in_code, {"colorInteropID": "lin_ap0_scene"}).name == "raw"


def test_no_scene_linear_role_to_fall_back_on_is_a_color_error():
    in_code = color.ColorConfig(config=ocio.Config.CreateRaw(), source="in code", origin="--ocio")
    with pytest.raises(ColorError, match="no scene_linear role to fall back on; pass --colorspace"):
        color.resolve_input_space(in_code, {})


# --- output tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [{}, {"chromaticities": AP0}, {"chromaticities": REC709}])
def test_every_space_gets_tags_that_check_ok(cfg, source):
    warned = {}
    for name in cfg.config.getColorSpaceNames():
        attributes = color.output_attributes(cfg, name, source)
        warning = OpenEXR.checkColorMetadata(attributes)
        if warning != OpenEXR.ColorMetadataWarning.OK:
            warned[name] = warning
    assert warned == {}


def test_consistent_source_chromaticities_are_kept_as_is(cfg, shared_data):
    source = _header(shared_data / "exr" / "TestImages" / "WideColorGamut.exr")
    attributes = color.output_attributes(cfg, "Linear Rec.709 (sRGB)", source)
    assert attributes == {"colorInteropID": "lin_rec709_scene", "chromaticities": source["chromaticities"]}


def test_contradicting_chromaticities_are_replaced_by_the_spaces_own(cfg):
    attributes = color.output_attributes(cfg, "ACEScg", {"chromaticities": REC709})
    assert attributes == {"colorInteropID": "lin_ap1_scene", "chromaticities": AP1}


def test_no_chromaticities_are_added_when_the_source_had_none(cfg):
    assert color.output_attributes(cfg, "ACEScg", {}) == {"colorInteropID": "lin_ap1_scene"}


def test_data_gets_no_chromaticities_or_white_luminance(cfg):
    attributes = color.output_attributes(cfg, "Raw", {"chromaticities": AP1, "whiteLuminance": 100.0})
    assert attributes == {"colorInteropID": "data"}


def test_aces_container_flag_is_kept_only_for_aces2065_1(cfg):
    source = {"acesImageContainerFlag": 1, "chromaticities": AP0}
    assert color.output_attributes(cfg, "ACES2065-1", source)["acesImageContainerFlag"] == 1
    assert "acesImageContainerFlag" not in color.output_attributes(cfg, "ACEScg", source)


def test_tags_survive_a_write_and_read_and_check_ok(cfg, shared_data, tmp_path):
    source = _header(shared_data / "exr" / "Chromaticities" / "XYZ.exr")
    attributes = color.output_attributes(cfg, color.resolve_input_space(cfg, source).name, source)
    path = tmp_path / "tagged.exr"
    pixels = np.zeros((2, 2, 3), np.float16)
    with OpenEXR.File(attributes, {"RGB": pixels}) as exr:
        exr.write(str(path))
    written = _header(path)
    assert written["colorInteropID"] == "lin_ciexyzd65_scene"
    np.testing.assert_allclose(written["chromaticities"], source["chromaticities"], atol=1e-7)
    assert OpenEXR.checkColorMetadata(written) == OpenEXR.ColorMetadataWarning.OK


# --- conversions -----------------------------------------------------------------------------------


def test_aces_chart_to_acescg_and_back_within_1e_5_relative(cfg, shared_data):
    with OpenEXR.File(
        str(shared_data / "exr" / "aces-chart" / "aces" / "synthetic" / "target_ricd_190spectra.exr")
    ) as exr:
        chart = exr.channels()["RGBA"].pixels.astype(np.float32)
    back = color.convert(cfg, color.convert(cfg, chart, "ACES2065-1", "ACEScg"), "ACEScg", "ACES2065-1")
    rgb, back_rgb = chart[..., :3], back[..., :3]
    significant = np.abs(rgb) > 1e-3
    assert np.count_nonzero(significant) > 1_000_000
    assert (np.abs(back_rgb - rgb) / np.maximum(np.abs(rgb), 1e-3)).max() < 1e-5
    np.testing.assert_array_equal(back[..., 3], chart[..., 3])


def test_rec709_sample_converts_to_the_xyz_sample(cfg, shared_data):
    def rgb(name: str) -> np.ndarray:
        with OpenEXR.File(str(shared_data / "exr" / "Chromaticities" / name)) as exr:
            return exr.channels()["RGB"].pixels.astype(np.float32)

    converted = color.convert(cfg, rgb("Rec709.exr"), "Linear Rec.709 (sRGB)", "CIE XYZ-D65 - Scene-referred")
    xyz = rgb("XYZ.exr")
    bright = np.abs(xyz) > 0.05
    assert np.median(np.abs(converted - xyz)[bright] / np.abs(xyz)[bright]) < 1e-3  # half precision is 5e-4


def test_convert_leaves_input_and_alpha_untouched(cfg):
    rgba = np.array([[[0.18, 1.0, 65504.0, 0.5], [-0.1, 0.0, 2.0, -3.0]]], np.float32)
    before = rgba.copy()
    out = color.convert(cfg, rgba, "ACEScg", "ACES2065-1")
    np.testing.assert_array_equal(rgba, before)
    np.testing.assert_array_equal(out[..., 3], before[..., 3])
    assert out.dtype == np.float32 and not np.allclose(out[..., :3], before[..., :3])


@pytest.mark.parametrize("bits", [8, 16])
def test_srgb_codes_round_trip_through_linear(cfg, bits):
    top = 2**bits - 1
    codes = np.arange(top + 1, dtype=np.float64)
    # Each code once per channel, with the channels out of step so the gamut matrix mixes them.
    rgb = np.stack([codes, codes[::-1], np.roll(codes, top // 3)], axis=-1).reshape(1, -1, 3)
    srgb = color.srgb_encoded_space(cfg)
    linear = color.convert(cfg, (rgb / top).astype(np.float32), srgb, "ACEScg")
    back = np.rint(color.convert(cfg, linear, "ACEScg", srgb).astype(np.float64) * top)
    assert srgb == "sRGB Encoded Rec.709 (sRGB)"
    assert np.count_nonzero(back != rgb) == 0


def test_convert_with_an_unknown_space_names_it(cfg):
    with pytest.raises(ColorError, match=r"colour space 'ACEScgg': not a colour space"):
        color.convert(cfg, np.zeros((1, 1, 3), np.float32), "ACEScgg", "ACEScg")


def test_convert_refuses_other_channel_counts(cfg):
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        color.convert(cfg, np.zeros((2, 2, 2), np.float32), "ACEScg", "ACES2065-1")


def test_unknown_source_chromaticities_are_kept_when_the_space_is_assumed() -> None:
    cfg = color.load_config()
    camera = (0.7, 0.3, 0.2, 0.75, 0.12, 0.05, 0.3127, 0.329)  # primaries no interop ID names
    choice = color.resolve_input_space(cfg, {"chromaticities": camera})
    assert choice.fallback and choice.reason == "chromaticities match no colour space; scene_linear role assumed"
    tags = color.output_attributes(cfg, choice.name, {"chromaticities": camera}, keep_source=choice.fallback)
    assert tags == {"chromaticities": camera}
    assert OpenEXR.checkColorMetadata(tags) == 0
