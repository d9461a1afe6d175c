"""The `nuke` stub does what Foundry documents for each call it stands for (the page is cited beside each in the stub).

These pin the behaviours the plugin's defects hid behind (issue 20), so a kinder stub cannot creep back.
"""

from __future__ import annotations

import threading
from pathlib import Path

import nuke
import nuke_support
import nukescripts
import pytest


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nuke, "GUI", True)
    nuke.reset()


def test_a_file_knob_evaluates_to_the_current_frame_and_filename_keeps_the_pattern() -> None:
    nuke.root()["name"].setValue("/shows/x/comp/shot.nk")
    read = nuke.nodes.Read()
    read["file"].setValue("[file dirname [value root.name]]/plate/plate.####.exr")
    nuke.frame(1012)
    assert read["file"].value() == "[file dirname [value root.name]]/plate/plate.%04d.exr"
    assert read["file"].evaluate() == "/shows/x/comp/plate/plate.1012.exr"
    assert nuke.filename(read) == "/shows/x/comp/plate/plate.%04d.exr"
    assert nuke.filename(read, nuke.REPLACE) == "/shows/x/comp/plate/plate.1012.exr"


def test_tcl_file_dirname_of_an_unsaved_script_is_a_dot() -> None:
    assert nuke.root()["name"].value() == ""
    assert nuke.tcl("subst", "[file dirname [value root.name]]/out.####.exr") == "./out.####.exr"
    group = nuke.nodes.Group()
    assert nuke.tcl("in", group.fullName(), "subst {[value this.name].exr}") == f"{group.name()}.exr"


def test_create_node_connects_the_selection_only_to_a_node_with_inputs() -> None:
    read = nuke.createNode("Read")
    group = nuke.createNode("Group")
    assert group.input(0) is None and group.maximumInputs() == 0
    with group:
        nuke.nodes.Input()
    assert group.setInput(0, read) and group.input(0) is read
    read.setSelected(True)
    group.setSelected(False)
    grade = nuke.createNode("Grade")
    assert grade.input(0) is read


def test_a_group_holds_its_built_in_knobs_before_its_own() -> None:
    group = nuke.nodes.Group()
    group.addKnob(nuke.Tab_Knob("mine"))
    group.addKnob(nuke.Int_Knob("count"))
    assert {"name", "label", "xpos", "ypos", "disable", "knobChanged", "mine", "count"} <= set(group.knobs())
    assert [k.name() for k in group.allKnobs()][-2:] == ["mine", "count"]


def test_only_from_user_text_reads_a_reads_range_and_format(tmp_path: Path, shared_data: Path) -> None:
    pattern = nuke_support.copy_sequence(shared_data, tmp_path, 3)
    read = nuke.nodes.Read()
    read["file"].setValue(pattern)
    assert (read["first"].value(), read["last"].value()) == (1, 1)
    assert (read["format"].value().width(), read["format"].value().height()) == (2048, 1556)  # the project's
    read["file"].fromUserText(f"{pattern} 1001-1003")
    assert (read["first"].value(), read["last"].value(), read["origlast"].value()) == (1001, 1003, 1003)
    assert (read["format"].value().width(), read["format"].value().height()) == (400, 300)


def test_colour_space_menus_have_the_default_form_roles_families_and_bracketed_names() -> None:
    nuke.root()["colorManagement"].setValue("OCIO")
    knob = nuke.nodes.Read()["colorspace"]
    assert knob.value() == "default (ACEScg)"
    listed = nuke.getColorspaceList(knob)
    assert listed[0] == "default (ACEScg)"
    assert "scene_linear\t(ACEScg)" in listed and "Linear Rec.709 (sRGB)" in listed
    assert "Utility/Linear Rec.709 (sRGB)" in knob.values()  # the family is a submenu, stripped in the list
    knob.setValue("Linear Rec.709 (sRGB)")
    assert knob.value() == "Linear Rec.709 (sRGB)"
    knob.setValue("scene_linear")
    assert knob.value() == "scene_linear"
    with pytest.raises(ValueError):
        knob.setValue("sRGB")  # not a name of this config


def test_menu_raises_without_a_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nuke, "GUI", False)
    with pytest.raises(RuntimeError, match="not in GUI mode"):
        nuke.menu("Nodes")
    with pytest.raises(RuntimeError):
        nukescripts.panels.registerWidgetAsPanel("object", "a pane", "uk.example.pane")


def test_clear_menu_empties_a_menu_and_menus_change_on_the_main_thread_only() -> None:
    menu = nuke.menu("Nodes").addMenu("dp_stub_test")
    menu.addCommand("a", "pass")
    assert menu.clearMenu() and menu.items == {} and nuke.menu("Nodes").findItem("dp_stub_test") is menu
    errors = []
    worker = threading.Thread(target=lambda: errors.append(_raised(lambda: menu.addCommand("b", "pass"))))
    worker.start()
    worker.join()
    assert "off the main thread" in errors[0] and menu.items == {}


def _raised(call) -> str:
    try:
        call()
    except AssertionError as exc:
        return str(exc)
    return ""


def test_execute_in_main_thread_with_result_from_the_main_thread_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="deadlock"):
        nuke.executeInMainThreadWithResult(lambda: 1)
    box = []
    worker = threading.Thread(target=lambda: box.append(nuke.executeInMainThreadWithResult(lambda a, b: a + b, (2, 3))))
    worker.start()
    nuke.pump(until=lambda: box, timeout=10)
    worker.join()
    assert box == [5]
    seen = []
    nuke.executeInMainThread(seen.append, ["one", "argument"])  # not a tuple: passed as one argument
    nuke.pump()
    assert seen == [["one", "argument"]]


def test_a_saved_script_opens_with_its_nodes_knobs_and_connections(tmp_path: Path) -> None:
    read = nuke.createNode("Read")
    read["file"].setValue("/plates/p.####.exr")
    group = nuke.createNode("Group")
    group.setName("Mine")
    tab = nuke.Tab_Knob("mine", "mine")
    group.addKnob(tab)
    hidden = nuke.String_Knob("kind", "kind", "Relight")
    hidden.setFlag(nuke.INVISIBLE)
    group.addKnob(hidden)
    group.addKnob(nuke.Enumeration_Knob("method", "method", ["auto", "flow"]))
    group["method"].setValue("flow")
    prompt = nuke.Multiline_Eval_String_Knob("prompt", "prompt")
    prompt.setValue('dusk "warm" [light]\n$rim')
    group.addKnob(prompt)
    group.addKnob(nuke.Double_Knob("strength", "strength"))
    group["strength"].setValue(0.25)
    group.addKnob(nuke.PyScript_Knob("go", "Go", "print('a')\nprint('b')"))
    with group:
        inp = nuke.nodes.Input()
        out = nuke.nodes.Output()
        out.setInput(0, inp)
    group.setInput(0, read)
    nuke.scriptSaveAs(str(tmp_path / "a.nk"))

    nuke.scriptOpen(str(tmp_path / "a.nk"))

    assert nuke.root()["name"].value() == str(tmp_path / "a.nk")
    mine = nuke.toNode("Mine")
    assert mine.input(0) is nuke.toNode("Read1")
    assert nuke.toNode("Read1")["file"].value() == "/plates/p.%04d.exr"
    assert mine["kind"].value() == "Relight" and mine["kind"].getFlag(nuke.INVISIBLE)
    assert mine["method"].value() == "flow" and mine["method"].values() == ["auto", "flow"]
    assert mine["prompt"].value() == 'dusk "warm" [light]\n$rim'
    assert mine["strength"].value() == 0.25
    assert mine["go"].value() == "print('a')\nprint('b')"
    assert [k.name() for k in mine.allKnobs()][-6:] == ["mine", "kind", "method", "prompt", "strength", "go"]
    assert mine.node("Output1").input(0) is mine.node("Input1")
