"""A stub of the `nuke` calls the dreamplate plugin makes, each behaving as Foundry documents it.

Every behaviour below carries the Foundry page (or, where Foundry is silent, the plugin that runs in real Nuke) it
was written from. Nothing here is shaped to what the plugin expects: where Nuke's behaviour is not documented the
stub is strict (it raises) rather than kind. The pages, in short:

- Knobs: typed values; a File_Knob's `value()` spells `####` as `%04d`, `evaluate()` substitutes the current frame
  (File_Knob, nuke.filename, ComfyUI-for-Nuke #25); `fromUserText` alone reads a Read's format and range.
- Nodes: built-in knobs on every node (Root, Read, Write reference pages); `createNode` connects the selection only
  to a node that has inputs, and a Group's inputs are its Input nodes (Getting Started, Input reference,
  Node.setInput); knob defaults are applied to new nodes (nuke.knobDefault, Getting Started).
- TCL: `[value ...]`, `[file dirname ...]` (`.` for a name with no folder, Tcl's own manual), `in`, `subst`.
- Colour: OCIO menus with a `default (ACEScg)` entry, roles, families under STRIP_CASCADE_PREFIX and bracketed
  names; `getColorspaceList` (OCIO Color Management guide, nuke.getColorspaceList source).
- Threads: node edits only on the main thread ("Threading" chapter); `executeInMainThreadWithResult` from the main
  thread would wait forever (nuke_internal.executeInMain source), so it raises.
- Scripts: `scriptSaveAs` writes a `.nk` (TCL node blocks, `addUserKnob`, the node stack) that `scriptOpen` reads
  back into nodes (nuke.scriptSave, nuke.scriptSaveAs, Nuke TCL reference).
- Menus: `nuke.menu` raises RuntimeError without a GUI (nuke.menu).
- Roto: a Roto/RotoPaint node's `curves` knob, its `rootLayer` tree of Layers, Shapes (ShapeControlPoints with a
  `center`) and Strokes (AnimControlPoints), `getPosition(time)` -> CVec3 (Roto and RotoPaint guide, nuke.rotopaint).
- Rendering: `execute(write, first, last)` writes real EXRs of the upstream pixels, with the Write's data type and
  compression; Read frames through `dreamplate.io.exr`, a Read's frame offset, `Grade` multiplies RGB by
  `multiply`, a Group's Input takes the Group's input, a Switch its `which` input, anything else its input 0.
  Nuke's EXR writer tags no colour space; nor does this.

Test helpers (not Nuke API): `reset()`, `pump()`, `ProgressTask.cancel()`, `messages`, `executed`.
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
from pathlib import Path

GUI = True
NUKE_VERSION_MAJOR = 15
NUKE_VERSION_MINOR = 1
NUKE_VERSION_STRING = "15.1v3"
EXE_PATH = "/opt/Nuke15.1v3/Nuke15.1"

# nuke.filename(node, REPLACE): "Will replace %%04d style sequences with the current frame number."
# https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.filename.html
REPLACE = 1

STARTLINE = 0x1000
INVISIBLE = 0x400
DISABLED = 0x80
READ_ONLY = 0x10000000
NO_ANIMATION = 0x100
NO_UNDO = 0x200
# nuke.getColorspaceList "will strip family names if the knob has the STRIP_CASCADE_PREFIX flag set".
# https://learn.foundry.com/nuke/developers/140/pythondevguide/_autosummary/nuke.getColorspaceList.html
STRIP_CASCADE_PREFIX = 0x80000

messages = []  # every nuke.message text, in order
plugin_paths = []
executed = []  # (write node full name, first, last) for each execute call
_main_queue = queue.Queue()
_MAIN = threading.main_thread()
_this = threading.local()
_knob_defaults = {}


def _on_main_thread(what):
    # Node and knob edits belong to the main thread; other threads hand them over with executeInMainThread
    # (Python Developer's Guide, "Threading", https://learn.foundry.com/nuke/developers/latest/pythondevguide/).
    if threading.current_thread() is not _MAIN:
        raise AssertionError(f"nuke stub: {what} called off the main thread (use nuke.executeInMainThread)")


# --- colour spaces ---------------------------------------------------------------------------------------------------
# The OCIO Color Management guide: a config gives "color transform options and roles (aliases to transforms)", and
# "When the default option is selected, the color transform that Nuke has set for it is listed in brackets".
# https://learn.foundry.com/nuke/content/comp_environment/configuring_nuke/using_ocio_config_files.html
# Menus are cascading ("To create cascading submenus simply use the forward slash",
# https://learn.foundry.com/nuke/developers/110/pythonreference/nuke.CascadingEnumeration_Knob-class.html) with the
# family as the submenu; the knob's value is the name without it, which is why getColorspaceList strips families.
# A role entry carries its target after a tab ("scene_linear\t(ACEScg)"); the knob's value is the text before the
# tab. Foundry does not document that spelling; it is how ayon-nuke, which runs in real Nuke, reads the menus
# (client/ayon_nuke/api/colorspace.py, get_colorspace_list). Names may hold brackets themselves: the ACES studio
# config's "Linear Rec.709 (sRGB)" is one colour space, not "sRGB".
OCIO_FAMILIES = [
    ("ACES", "ACES2065-1"),
    ("ACES", "ACEScg"),
    ("ACES", "ACEScct"),
    ("Utility", "Linear Rec.709 (sRGB)"),
    ("Utility", "sRGB Encoded Rec.709 (sRGB)"),
    ("Utility", "Raw"),
]
OCIO_ROLES = [("scene_linear", "ACEScg"), ("color_picking", "sRGB Encoded Rec.709 (sRGB)"), ("data", "Raw")]
OCIO_DEFAULT = "ACEScg"  # what Nuke picks for a float EXR under the studio config (its scene_linear role)
NUKE_COLORSPACES = ["linear", "sRGB", "rec709", "Cineon", "Gamma1.8", "Gamma2.2", "Panalog", "AlexaV3LogC", "raw"]
NUKE_DEFAULT = "linear"


def _ocio():
    management = _ROOT.knob("colorManagement") if _ROOT is not None else None
    return management is not None and management.value() == "OCIO"


def _colorspace_menu(with_default):
    if _ocio():
        items = [f"Roles/{role}\t({target})" for role, target in OCIO_ROLES]
        items += [f"{family}/{name}" for family, name in OCIO_FAMILIES]
        default = OCIO_DEFAULT
    else:
        items, default = list(NUKE_COLORSPACES), NUKE_DEFAULT
    return ([f"default ({default})"] if with_default else []) + items


def _menu_value(item):
    """What the knob's value() gives for a menu item: no family, nothing after a tab."""
    return item.split("\t")[0].split("/")[-1]


def getColorspaceList(colorspaceKnob):
    """The knob's menu items, families stripped when STRIP_CASCADE_PREFIX is set (aliases left as Nuke gives them).

    https://learn.foundry.com/nuke/developers/160/pythondevguide/_modules/nuke_internal/colorspaces.html
    """
    items = list(colorspaceKnob.values())
    if not colorspaceKnob.getFlag(STRIP_CASCADE_PREFIX):
        return items
    return [item.split("/")[-1] for item in items]


# --- knobs -----------------------------------------------------------------------------------------------------------


class Knob:
    default = ""
    type_id = 1  # addUserKnob's type number, for saving user knobs (see _USER_TYPES)

    def __init__(self, name, label=None, value=None):
        self._name = name
        self._label = label if label is not None else name
        self._value = self.default if value is None else self._coerce(value)
        self._node = None
        self.flags = set()
        self.enabled = True
        self.visible = True
        self.tooltip = ""

    def _coerce(self, value):
        return value

    def name(self):
        return self._name

    def label(self):
        return self._label

    def node(self):
        return self._node

    def value(self):
        return self._value

    def getValue(self):
        return self.value()

    def setValue(self, value):
        _on_main_thread(f"{self._name}.setValue")
        self._value = self._coerce(value)
        return True

    def notDefault(self):
        return self._value != self.default

    def fromScript(self, text):
        """Initialise from the text a saved script holds for this knob."""
        self._value = self._coerce(text)
        return True

    def toScript(self):
        return _quote(self._value)

    def setFlag(self, flag):
        self.flags.add(flag)

    def clearFlag(self, flag):
        self.flags.discard(flag)

    def getFlag(self, flag):
        return flag in self.flags

    def setEnabled(self, enabled):
        self.enabled = bool(enabled)

    def setVisible(self, visible):
        self.visible = bool(visible)

    def setTooltip(self, text):
        self.tooltip = text

    def Class(self):
        return type(self).__name__


class String_Knob(Knob):
    def _coerce(self, value):
        return str(value)

    def getText(self):
        return self._value


class EvalString_Knob(String_Knob):
    def evaluate(self):
        """TCL expanded: "Evaluate the string, performing substitutions" (EvalString_Knob.evaluate).

        https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.EvalString_Knob.html
        """
        return _tcl(self._value, self._node)


class Multiline_Eval_String_Knob(EvalString_Knob):
    type_id = 43


class Password_Knob(String_Knob):
    type_id = 61


class File_Knob(EvalString_Knob):
    """A file name: what a Read or Write reads from and writes to.

    https://learn.foundry.com/nuke/developers/70/pythonreference/nuke.File_Knob-class.html
    """

    type_id = 2

    def value(self):
        # "Returns the string on this knob, will be normalized to technical notation if sequence (%4d)", as
        # Deadline's submitter relies on ("frame_####.exr becomes frame_%04d.exr",
        # aws-deadline/deadline-cloud-for-nuke src/deadline/nuke_submitter/assets.py).
        return _printf_frames(self._value)

    def evaluate(self):
        # Substitutions include the frame: evaluate() gives the file of the current frame, not the pattern
        # ("it cannot go like this 0001", https://github.com/vinavfx/ComfyUI-for-Nuke/issues/25; ayon-nuke's
        # write_to_read takes the last number of evaluate() as "a sequence counter"). nuke.filename keeps %04d.
        return _frame_file(_tcl(self._value, self._node), _ROOT["frame"].value())

    def fromUserText(self, text):
        """ "Assign string to knob, parses frame range off the end and opens file to get set the format."

        https://learn.foundry.com/nuke/developers/151/pythondevguide/_autosummary/nuke.File_Knob.html
        setValue is plain "Assign string to knob": only this reads the file, so only this changes a Read's range
        and format.
        """
        _on_main_thread(f"{self._name}.fromUserText")
        match = re.match(r"^(.*?)\s+(-?\d+)-(-?\d+)\s*$", text)
        path, first, last = (match.group(1), int(match.group(2)), int(match.group(3))) if match else (text, None, None)
        self._value = path
        node = self._node
        if node is None or node.Class() != "Read":
            return None
        if first is not None:
            for name, number in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
                node[name]._value = number
        probe = _frame_file(_tcl(path, node), first if first is not None else node["first"].value())
        if os.path.isfile(probe):
            from dreamplate.io.exr import read_exr

            xmin, ymin, xmax, ymax = read_exr(Path(probe)).display_window
            node["format"]._value = Format(xmax - xmin + 1, ymax - ymin + 1)
        return None


class Int_Knob(Knob):
    default = 0
    type_id = 3

    def _coerce(self, value):
        if isinstance(value, str):
            return int(float(value))
        return int(value)

    def setRange(self, low, high):
        """The slider's range (Array_Knob.setRange, which Int_Knob and Double_Knob inherit); values are not clamped.

        https://learn.foundry.com/nuke/developers/120/pythonreference/nuke.Array_Knob-class.html
        """
        self.range = (low, high)


class Double_Knob(Knob):
    default = 0.0
    type_id = 7

    def _coerce(self, value):
        return float(value)

    def setRange(self, low, high):
        self.range = (low, high)


class Boolean_Knob(Knob):
    default = False
    type_id = 6

    def _coerce(self, value):
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return bool(value)


class Enumeration_Knob(Knob):
    """One of its items; setValue takes an item or its index (ValueError otherwise).

    https://learn.foundry.com/nuke/developers/120/pythonreference/nuke.Enumeration_Knob-class.html
    """

    type_id = 4

    def __init__(self, name, label=None, values=()):
        self._values = [str(v) for v in values]
        super().__init__(name, label, self._values[0] if self._values else "")

    def _coerce(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(self._values):
                raise ValueError(f"{self._name}: no item {value}")
            return self._values[value]
        if str(value) not in self._values:
            raise ValueError(f"{self._name}: invalid value {value!r}")
        return str(value)

    def values(self):
        return list(self._values)

    def setValues(self, values):
        self._values = [str(v) for v in values]


class _Colorspace_Knob(Enumeration_Knob):
    """A Read's or Write's `colorspace`, or the Root's working space: its menu follows the project's colour config.

    The value is the item's name without family or tab text (`ACEScg`, `scene_linear`), or `default (ACEScg)` while
    the default is chosen. Only menu names are accepted: what Nuke does with a name its menu lacks, or with an
    OCIO alias, is not documented, so the stub refuses both with ValueError.
    """

    _DEFAULT = object()

    def __init__(self, name, with_default=True):
        self._with_default = with_default
        Knob.__init__(self, name, name, None)
        self._value = self._DEFAULT if with_default else NUKE_DEFAULT  # a new project starts under Nuke's own
        self.flags.add(STRIP_CASCADE_PREFIX)

    def values(self):
        return _colorspace_menu(self._with_default)

    def _coerce(self, value):
        items = self.values()
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(items):
                raise ValueError(f"{self._name}: no item {value}")
            value = items[value]
        text = str(value)
        if self._with_default and text.startswith("default"):
            return self._DEFAULT
        for item in items:
            if text in (item, item.split("/")[-1], _menu_value(item)):
                return _menu_value(item)
        raise ValueError(f"{self._name}: invalid value {value!r}")

    def value(self):
        if self._value is self._DEFAULT:
            return self.values()[0]
        return self._value

    def notDefault(self):
        return self._value is not self._DEFAULT

    def toScript(self):
        return _quote(self.value())

    def Class(self):
        return "Enumeration_Knob"


class Text_Knob(Knob):
    type_id = 26

    def __init__(self, name, label=None, text=""):
        super().__init__(name, label, text)


class Tab_Knob(Knob):
    type_id = 20


class PyScript_Knob(Knob):
    type_id = 22

    def __init__(self, name, label=None, script=""):
        super().__init__(name, label, script)

    def execute(self):
        """Run the button's script as Nuke does, with `nuke.thisNode()` the knob's node."""
        _on_main_thread(f"{self._name}.execute")
        previous = getattr(_this, "node", None)
        _this.node = self._node
        try:
            exec(self._value, {"nuke": sys.modules[__name__]})
        finally:
            _this.node = previous


class PythonKnob(String_Knob):
    """onCreate, knobChanged and the other callback knobs every node has: Python text."""


class ColorChip_Knob(Int_Knob):
    pass


class Format:
    """nuke.Format: a named size. https://learn.foundry.com/nuke/developers/70/pythonreference/nuke.Format_Knob-class.html"""

    def __init__(self, width, height, name=""):
        self._width, self._height, self._name = int(width), int(height), name

    def width(self):
        return self._width

    def height(self):
        return self._height

    def name(self):
        return self._name

    def __eq__(self, other):
        return isinstance(other, Format) and (self._width, self._height) == (other._width, other._height)

    def __repr__(self):
        return f"<Format {self._width}x{self._height} {self._name}>"


class Format_Knob(Knob):
    def _coerce(self, value):
        if isinstance(value, Format):
            return value
        width, height = str(value).split()[:2]
        return Format(width, height)

    def toScript(self):
        return _quote(f"{self._value.width()} {self._value.height()}")


# --- nodes -----------------------------------------------------------------------------------------------------------


def _node_tab():
    """The Node tab every node has: name, label, position, colours, disable, lifetime, callbacks.

    Foundry's reference pages list a node's own knobs; these are the ones each of them shares (the Root page shows
    `label` and `lock_connections`, https://learn.foundry.com/nuke/content/reference_guide/other_nodes/root.html;
    the full set as Nuke reports it is the one jontypressinger/nusion keeps in nusion/model/config.py).
    """
    return [
        Multiline_Eval_String_Knob("label"),
        String_Knob("note_font", value="Verdana"),
        Int_Knob("note_font_size", value=11),
        ColorChip_Knob("note_font_color"),
        Boolean_Knob("selected"),
        Int_Knob("xpos"),
        Int_Knob("ypos"),
        ColorChip_Knob("tile_color"),
        ColorChip_Knob("gl_color"),
        Boolean_Knob("hide_input"),
        Boolean_Knob("cached"),
        Boolean_Knob("disable"),
        Boolean_Knob("dope_sheet"),
        Boolean_Knob("bookmark"),
        Boolean_Knob("postage_stamp"),
        Boolean_Knob("useLifetime"),
        Double_Knob("lifetimeStart"),
        Double_Knob("lifetimeEnd"),
        Boolean_Knob("lock_connections"),
        PythonKnob("onCreate"),
        PythonKnob("onDestroy"),
        PythonKnob("knobChanged"),
        PythonKnob("updateUI"),
        PythonKnob("autolabel"),
    ]


EXR_COMPRESSIONS = {
    # Write node, exr options -> the EXR compression it writes (OpenEXR's names, as dreamplate.io.exr spells them).
    "none": "none",
    "Zip (1 scanline)": "zips",
    "Zip (16 scanlines)": "zip",
    "RLE": "rle",
    "PIZ Wavelet (32 scanlines)": "piz",
    "PXR24 (lossy)": "pxr24",
    "B44 (lossy)": "b44",
    "B44A (lossy)": "b44a",
    "DWAA (lossy)": "dwaa",
    "DWAB (lossy)": "dwab",
}
MAX_INPUTS = {"Read": 0, "Input": 0, "Root": 0, "Constant": 0, "Write": 1, "Output": 1, "Grade": 2, "Switch": 64}


def _class_knobs(cls):
    """The built-in knobs of the node classes the plugin creates or reads (only those)."""
    if cls == "Read":
        # https://learn.foundry.com/nuke/12.2/content/reference_guide/image_nodes/read.html
        return [
            File_Knob("file"),
            Format_Knob("format", value=_ROOT["format"].value()),
            File_Knob("proxy"),
            Int_Knob("first", value=1),
            Enumeration_Knob("before", values=["hold", "loop", "bounce", "black"]),
            Int_Knob("last", value=1),
            Enumeration_Knob("after", values=["hold", "loop", "bounce", "black"]),
            # "frame": an expression, a start frame or a constant offset between the current frame and the file's.
            # https://learn.foundry.com/nuke/8.0/content/getting_started/managing_scripts/changing_read_frames.html
            Enumeration_Knob("frame_mode", values=["expression", "start at", "offset"]),
            String_Knob("frame"),
            Int_Knob("origfirst", value=1),
            Int_Knob("origlast", value=1),
            Enumeration_Knob("on_error", values=["error", "black", "checkerboard", "nearest frame"]),
            PyScript_Knob("reload"),
            _Colorspace_Knob("colorspace"),
            Boolean_Knob("premultiplied"),
            Boolean_Knob("raw"),
        ]
    if cls == "Write":
        # The Write's EXR controls ("datatype ... 16 bit half or 32 bit float", "compression"), as the Writing Deep
        # Data page lists those it shares with the Write node:
        # https://learn.foundry.com/nuke/content/comp_environment/deep/writing_deep_data.html
        return [
            Enumeration_Knob("channels", values=["rgb", "rgba", "all"]),
            File_Knob("file"),
            File_Knob("proxy"),
            _Colorspace_Knob("colorspace"),
            Boolean_Knob("raw"),
            Enumeration_Knob("file_type", values=["", "exr", "tiff", "png", "jpeg", "dpx"]),
            Enumeration_Knob("datatype", values=["16 bit half", "32 bit float"]),
            Enumeration_Knob("compression", values=list(EXR_COMPRESSIONS)),
            Boolean_Knob("create_directories"),
            Boolean_Knob("reading"),
        ]
    if cls in ("Roto", "RotoPaint"):
        # "When getting or setting shapes in the Roto or RotoPaint node, you need access to the node's curves knob"
        # (Roto and RotoPaint, https://learn.foundry.com/nuke/developers/150/pythondevguide/rotopaint.html).
        return [_CurveKnob("curves"), Format_Knob("format", value=_ROOT["format"].value())]
    if cls == "Switch":
        return [Int_Knob("which")]
    if cls == "Input":
        return [Int_Knob("number")]
    if cls == "Grade":
        return [Double_Knob("multiply", value=1.0)]
    if cls == "Root":
        # https://learn.foundry.com/nuke/content/reference_guide/other_nodes/root.html
        return [
            File_Knob("name"),
            File_Knob("project_directory"),
            Int_Knob("frame", value=1),
            Int_Knob("first_frame", value=1),
            Int_Knob("last_frame", value=100),
            Double_Knob("fps", value=24.0),
            Format_Knob("format", value=Format(2048, 1556, "2K_Super_35")),
            Boolean_Knob("proxy"),
            Enumeration_Knob("colorManagement", values=["Nuke", "OCIO"]),
            Enumeration_Knob("OCIO_config", values=["nuke-default", "aces_1.2", "custom"]),
            File_Knob("customOCIOConfigPath"),
            _Colorspace_Knob("workingSpaceLUT", with_default=False),
        ]
    return []


class Node:
    def __init__(self, cls, parent=None):
        self._class = cls
        self._knobs = {}
        self._order = []  # allKnobs(): the built-ins, then the knobs added with addKnob, in that order
        self._user = []
        self._inputs = {}
        self._parent = parent
        self._children = []
        # Names are unique within their group, numbered from 1 per class, as Nuke numbers them.
        taken = {child.name() for child in parent._children} if parent is not None else set()
        number = 1
        while f"{cls}{number}" in taken:
            number += 1
        self._name = f"{cls}{number}" if cls != "Root" else "root"
        builtins = [String_Knob("name", value=self._name)] + _class_knobs(cls)
        if cls != "Root":
            builtins += _node_tab()
        for knob in builtins:
            knob._node = self
            self._knobs[knob.name()] = knob
            self._order.append(knob)
        # "any knob defaults are also set on the new node" (Getting Started; nuke.knobDefault).
        # https://learn.foundry.com/nuke/developers/151/pythondevguide/basics.html
        for key, value in _knob_defaults.items():
            node_class, _, knob_name = key.partition(".")
            if node_class == cls and knob_name in self._knobs:
                self._knobs[knob_name]._value = self._knobs[knob_name]._coerce(value)
        if parent is not None:
            parent._children.append(self)

    # identity
    def Class(self):
        return self._class

    def name(self):
        return self._name

    def fullName(self):
        if self._parent is None or self._parent is _ROOT:
            return self._name
        return f"{self._parent.fullName()}.{self._name}"

    def setName(self, name, uncollide=True):
        _on_main_thread("setName")
        siblings = {n.name() for n in (self._parent._children if self._parent else []) if n is not self}
        base, number = name, 1
        while uncollide and name in siblings:
            number += 1
            name = "{}{}".format(base.rstrip("0123456789"), number)
        self._name = name
        self._knobs["name"]._value = name

    # knobs
    def knob(self, name):
        return self._knobs.get(name)

    def __getitem__(self, name):
        knob = self._knobs.get(name)
        if knob is None:
            raise NameError(f"{self._name}: no knob named {name!r}")
        return knob

    def knobs(self):
        """Every named knob, built-ins included (Node.knobs: "Get a dictionary of (name, knob) pairs for all knobs")."""
        return dict(self._knobs)

    def allKnobs(self):
        return list(self._order)

    def addKnob(self, knob):
        _on_main_thread("addKnob")
        knob._node = self
        self._knobs[knob.name()] = knob
        self._order.append(knob)
        self._user.append(knob)

    # graph
    def maximumInputs(self):
        """A Group has one input per Input node inside it ("Adds an input arrow to a Group node").

        https://learn.foundry.com/NUKE/content/reference_guide/other_nodes/input.html
        """
        if self._class == "Group":
            return len([n for n in self._children if n.Class() == "Input"])
        return MAX_INPUTS.get(self._class, 1)

    def canSetInput(self, index, node):
        return 0 <= index < self.maximumInputs()

    def input(self, index):
        return self._inputs.get(index)

    def setInput(self, index, node):
        """ "Connect input i to node if canSetInput() returns true"; returns whether it did.

        https://learn.foundry.com/nuke/developers/132/pythondevguide/_autosummary/nuke.Node.html
        """
        _on_main_thread("setInput")
        if node is None:
            self._inputs.pop(index, None)
            return True
        if not self.canSetInput(index, node):
            return False
        self._inputs[index] = node
        return True

    def inputs(self):
        return max(self._inputs) + 1 if self._inputs else 0

    def dependencies(self):
        return [self._inputs[i] for i in sorted(self._inputs)]

    def setSelected(self, selected):
        self._knobs["selected"]._value = bool(selected)

    def isSelected(self):
        return self._knobs["selected"]._value

    # frame range
    def firstFrame(self):
        return self._range()[0]

    def lastFrame(self):
        return self._range()[1]

    def _range(self):
        if self._class == "Read":
            shift = _read_shift(self)
            return self["first"].value() + shift, self["last"].value() + shift
        if self._class == "Input" and self._parent is not None:
            upstream = self._parent.input(self["number"].value())
            return upstream._range() if upstream else (_ROOT["first_frame"].value(), _ROOT["last_frame"].value())
        if self._class == "Group":
            output = self._output()
            return output._range() if output else (_ROOT["first_frame"].value(), _ROOT["last_frame"].value())
        upstream = self.input(0)
        return upstream._range() if upstream else (_ROOT["first_frame"].value(), _ROOT["last_frame"].value())

    def format(self):
        if self._class == "Read":
            return self["format"].value()
        upstream = self.input(0)
        return upstream.format() if upstream is not None else _ROOT["format"].value()

    def _output(self):
        return next((child for child in self._children if child.Class() == "Output"), None)

    # groups
    def begin(self):
        _on_main_thread("begin")
        _context.append(self)
        return self

    def end(self):
        if _context and _context[-1] is self:
            _context.pop()

    def __enter__(self):
        return self.begin()

    def __exit__(self, *exc):
        self.end()

    def node(self, name):
        head, _, rest = name.partition(".")
        for child in self._children:
            if child.name() == head:
                return child.node(rest) if rest else child
        return None

    def nodes(self):
        return list(self._children)

    def parent(self):
        return self._parent

    def __repr__(self):
        return f"<stub {self._class} {self.fullName()}>"


def _read_shift(read):
    """Frames a Read's output is moved by: `offset N` adds N, `start at N` puts its first frame at N."""
    text = read["frame"].value().strip()
    if not text:
        return 0
    mode = read["frame_mode"].value()
    if mode == "offset":
        return int(float(text))
    if mode == "start at":
        return int(float(text)) - read["first"].value()
    raise RuntimeError(f"nuke stub: {read.name()}: frame expressions are not modelled")


def _read_frame(read, number):
    """The file frame a Read shows at `number`: shifted by its frame knob, and outside first-last as `before` and
    `after` say ("hold - select to show a still picture of the first frame", loop, bounce; black is not modelled).
    https://learn.foundry.com/nuke/8.0/content/reference_guide/image_nodes/read.html
    """
    number -= _read_shift(read)
    first, last = read["first"].value(), read["last"].value()
    if first <= number <= last:
        return number
    mode = read["before" if number < first else "after"].value()
    span = last - first + 1
    if mode == "hold":
        return first if number < first else last
    if mode == "loop":
        return first + (number - first) % span
    if mode == "bounce":
        step = (number - first) % (2 * span - 2) if span > 1 else 0
        return first + (step if step < span else 2 * span - 2 - step)
    raise RuntimeError(f"nuke stub: {read.name()}: {mode} outside the frame range is not modelled")


_ROOT = None
_ROOT = Node("Root")
_context = [_ROOT]


def root():
    return _ROOT


def thisNode():
    node = getattr(_this, "node", None)
    return node if node is not None else _context[-1]


def thisGroup():
    return _context[-1]


def frame(f=None):
    """ "Return or set the current frame number" (the root's frame knob).

    https://learn.foundry.com/nuke/developers/150/pythondevguide/_autosummary/nuke.frame.html
    """
    if f is not None:
        _ROOT["frame"].setValue(int(f))
    return _ROOT["frame"].value()


def knobDefault(classknob, value=None):
    """Get or set the default for a knob of a node class (`"Write.compression"`); applied to nodes made later."""
    if value is None:
        return _knob_defaults.get(classknob)
    _knob_defaults[classknob] = value
    return None


def _new_script():
    global _ROOT
    _ROOT = None
    _ROOT = Node("Root")
    _context[:] = [_ROOT]


def reset():
    """Test helper: a new session (empty script, no knob defaults, counters, messages and queues cleared)."""
    _knob_defaults.clear()
    _new_script()
    del messages[:]
    del executed[:]
    del ProgressTask.instances[:]
    while not _main_queue.empty():
        _main_queue.get_nowait()


def createNode(node, knobs="", inpanel=True):
    """ "creates a new node in the user interface, hooks it up to any user-selected nodes" (Getting Started).

    Hooked up only where it can be: a node with no inputs (a Read, an empty Group) is placed but not connected.
    https://learn.foundry.com/nuke/developers/151/pythondevguide/basics.html
    """
    _on_main_thread("createNode")
    parent = _context[-1]
    selected = [n for n in parent._children if n.isSelected()]
    made = Node(node, parent)
    if len(selected) == 1:
        made.setInput(0, selected[0])
    for other in parent._children:
        other.setSelected(False)
    made.setSelected(True)
    return made


class _Nodes:
    """`nuke.nodes.Read(file=...)`: create without connecting, knobs set from keyword arguments."""

    def __getattr__(self, cls):
        def make(**knob_values):
            _on_main_thread(f"nodes.{cls}")
            node = Node(cls, _context[-1])
            for name, value in knob_values.items():
                if name == "inputs":
                    for index, upstream in enumerate(value):
                        node.setInput(index, upstream)
                else:
                    node[name].setValue(value)
            return node

        return make


nodes = _Nodes()


def toNode(name):
    return _ROOT.node(name)


def allNodes(filter=None, group=None, recurseGroups=False):
    found = []

    def walk(parent):
        for child in parent._children:
            if filter is None or child.Class() == filter:
                found.append(child)
            if recurseGroups and child.Class() == "Group":
                walk(child)

    walk(group or _context[-1])
    return found


def selectedNode():
    selected = [n for n in _context[-1]._children if n.isSelected()]
    if not selected:
        raise ValueError("no node selected")
    return selected[-1]


def selectedNodes(filter=None):
    """ "Returns a list of all selected nodes in the current group" (nuke.selectedNodes)."""
    return [n for n in _context[-1]._children if n.isSelected() and (filter is None or n.Class() == filter)]


def delete(node):
    _on_main_thread("delete")
    if node._parent is not None:
        node._parent._children.remove(node)
        for other in node._parent._children:
            for index, upstream in list(other._inputs.items()):
                if upstream is node:
                    del other._inputs[index]


# --- file names and TCL ----------------------------------------------------------------------------------------------

_FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d")


def _printf_frames(text):
    return re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", text)


def _frame_file(pattern, number):
    def fill(match):
        token = match.group(0)
        width = len(token) if token[0] == "#" else int(match.group(1) or 0)
        return "{:0{}d}".format(number, width)

    return _FRAME_TOKEN.sub(fill, pattern)


def filename(node=None, i=None):
    """The file a Read or Write works with: "All expansion of commands and variables is done. However by default it
    will still have %%04d sequences in it, use REPLACE to get the actual filename with the current frame number".

    It follows root.proxy: the proxy file when proxy mode is on and the node has one. For a Group it is the file of
    the Writes inside. https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.filename.html
    """
    node = node if node is not None else thisNode()
    if node.Class() == "Group":
        writes = [n for n in node._children if n.Class() == "Write"]
        return filename(writes[0], i) if writes else None
    knob = node.knob("file")
    if knob is None:
        return None
    proxy = node.knob("proxy")
    text = proxy._value if _ROOT["proxy"].value() and proxy is not None and proxy._value else knob._value
    if not text:
        return None
    expanded = _printf_frames(_tcl(text, node))
    return _frame_file(expanded, _ROOT["frame"].value()) if i == REPLACE else expanded


def tcl(s, *args):
    """Run a TCL command with arguments (nuke.tcl); the stub knows value, file, in and subst.

    https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.tcl.html
    """
    return _tcl_command([s, *args], thisNode())


def _tcl(text, node):
    """Bracket substitution, innermost first, as TCL does inside a knob value."""
    pattern = re.compile(r"\[([^\[\]]*)\]")
    while True:
        match = pattern.search(text)
        if not match:
            return text
        text = text[: match.start()] + _tcl_command(_words(match.group(1)), node) + text[match.end() :]


def _words(command):
    words = re.findall(r'\{([^{}]*)\}|"((?:[^"\\]|\\.)*)"|(\S+)', command)
    return [a or b or c for a, b, c in words]


def _tcl_command(words, node):
    if words[:1] == ["value"] and len(words) == 2:
        target, _, knob = words[1].rpartition(".")
        owner = _ROOT if target == "root" else node if target == "this" else toNode(target.replace("root.", "", 1))
        if owner is None:
            raise RuntimeError(f"tcl: no node {target!r}")
        value = owner[knob]
        return str(value._value if isinstance(value, File_Knob) else value.value())
    if words[:2] == ["file", "dirname"]:
        # Tcl: "If name is a relative file name and only contains one path element, then returns '.'"; so an
        # unsaved script's `[file dirname [value root.name]]` is `.`. https://www.tcl-lang.org/man/tcl/TclCmd/file.htm
        return os.path.dirname(" ".join(words[2:])) or "."
    if words[:2] == ["file", "rootname"]:
        return os.path.splitext(" ".join(words[2:]))[0]
    if words[:2] == ["file", "tail"]:
        return os.path.basename(" ".join(words[2:]))
    if words[:1] == ["in"] and len(words) == 3:
        # "in object command: Execute commands with a given node/knob/field as the context."
        # http://nukepedia.com/reference/Tcl/group__tcl__builtin.html
        target = toNode(words[1].replace("root.", "", 1)) if words[1] != "root" else _ROOT
        if target is None:
            raise RuntimeError(f"tcl: no node {words[1]!r}")
        return _tcl_command(_words(words[2]), target)
    if words[:1] == ["subst"] and len(words) == 2:
        return _tcl(words[1], node)
    raise RuntimeError("nuke stub: TCL {!r} is not modelled".format(" ".join(words)))


# --- rendering -------------------------------------------------------------------------------------------------------


def _pixels(node, number):
    """The upstream image at `number` as a dreamplate ExrImage (channels float32); what Nuke's engine would compute."""
    from dreamplate.io.exr import read_exr

    if node is None:
        raise RuntimeError("nuke stub: a disconnected input")
    cls = node.Class()
    if node["disable"].value() and cls not in ("Read", "Input", "Group"):
        return _pixels(node.input(0), number)
    if cls == "Read":
        # No colour conversion is modelled, so `raw` (skip the conversion) reads the same pixels.
        path = _frame_file(filename(node), _read_frame(node, number))
        if not os.path.isfile(path):
            raise RuntimeError(f"{node.name()}: Read error: {path}: No such file or directory")
        return read_exr(Path(path))
    if cls == "Input":
        return _pixels(node._parent.input(node["number"].value()), number)
    if cls == "Group":
        return _pixels(node._output(), number)
    if cls == "Switch":
        return _pixels(node.input(node["which"].value()), number)
    image = _pixels(node.input(0), number)
    if cls == "Grade":
        gain = node["multiply"].value()
        for channel in ("R", "G", "B"):
            if channel in image.channels:
                image.channels[channel] = image.channels[channel].astype("float32") * gain
    return image


def execute(nameOrNode, start, end, incr=1, views=None, continueOnError=False):
    """Render a Write over [start, end]: real EXR files of the upstream pixels, in its data type and compression.

    https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.execute.html
    """
    _on_main_thread("execute")
    from dreamplate.io.exr import write_exr

    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise ValueError(f"nuke stub: execute() takes a Write node here, got {nameOrNode!r}")
    executed.append((node.fullName(), start, end))
    if node["file_type"].value() != "exr":
        raise RuntimeError("nuke stub: only exr Writes are modelled")
    pixel_type = "half" if node["datatype"].value() == "16 bit half" else "float"
    wanted = {"rgb": ("R", "G", "B"), "rgba": ("R", "G", "B", "A")}.get(node["channels"].value())
    for number in range(start, end + 1, incr):
        image = _pixels(node.input(0), number)
        channels = {k: v for k, v in image.channels.items() if wanted is None or k in wanted}
        path = _frame_file(filename(node), number)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            if not node["create_directories"].value():
                raise RuntimeError(f"{node.name()}: Can't write {path}: directory does not exist")
            os.makedirs(folder)
        # Nuke's EXR writer carries no colour-space tag: the header has only windows, channels and compression.
        written = type(image)(
            channels=channels,
            pixel_types=dict.fromkeys(channels, pixel_type),
            data_window=image.data_window,
            display_window=image.display_window,
            attributes={},
        )
        write_exr(Path(path), written, pixel_type=pixel_type, compression=EXR_COMPRESSIONS[node["compression"].value()])


# --- UI and threads --------------------------------------------------------------------------------------------------


def message(text):
    messages.append(text)
    if not GUI:
        print(text)


class ProgressTask:
    instances = []

    def __init__(self, title):
        self.title = title
        self.messages = []
        self.progress = []
        self._cancelled = False
        self.closed = False
        ProgressTask.instances.append(self)

    def setMessage(self, text):
        self.messages.append(text)

    def setProgress(self, percent):
        self.progress.append(int(percent))

    def isCancelled(self):
        return self._cancelled

    def cancel(self):
        """Test helper: the user pressed the task's Cancel button."""
        self._cancelled = True

    def __del__(self):
        self.closed = True


def executeInMainThread(call, args=(), kwargs=None):
    """Queue `call` for the main thread; a non-tuple `args` is one argument ("if type(args) != tuple: args = (args,)").

    https://learn.foundry.com/nuke/developers/140/pythondevguide/_modules/nuke_internal/executeInMain.html
    """
    if not isinstance(args, tuple):
        args = (args,)
    _main_queue.put((call, args, dict(kwargs or {})))


def executeInMainThreadWithResult(call, args=(), kwargs=None):
    """Run `call` on the main thread and wait for its result.

    Nuke's version queues the call and waits on an event only the main thread's event loop sets, so called from
    the main thread it never returns; the stub raises instead of hanging the test.
    https://learn.foundry.com/nuke/developers/140/pythondevguide/_modules/nuke_internal/executeInMain.html
    """
    if threading.current_thread() is _MAIN:
        raise RuntimeError("nuke stub: executeInMainThreadWithResult called from the main thread would deadlock")
    if not isinstance(args, tuple):
        args = (args,)
    done = threading.Event()
    box = {}

    def run():
        box["value"] = call(*args, **(kwargs or {}))
        done.set()

    executeInMainThread(run)
    done.wait()
    return box.get("value")


def pump(until=None, timeout=30.0):
    """Test helper: run queued main-thread calls (Nuke's event loop) until `until()` is true and the queue is empty."""
    import time

    _on_main_thread("pump")
    deadline = time.monotonic() + timeout
    while True:
        try:
            call, args, kwargs = _main_queue.get(timeout=0.02)
        except queue.Empty:
            if (until is None or until()) and _main_queue.empty():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"nuke stub: pump timed out after {timeout} s") from None
            continue
        call(*args, **kwargs)


# --- menus, paths, panels --------------------------------------------------------------------------------------------


class Menu:
    def __init__(self, name):
        self._name = name
        self.items = {}

    def name(self):
        return self._name

    def addMenu(self, name, icon=None, **kwargs):
        _on_main_thread("addMenu")  # menus are Qt widgets: main thread only, like node edits ("Threading")
        menu = self.items.get(name)
        if not isinstance(menu, Menu):
            menu = Menu(name)
            menu.icon = icon
            self.items[name] = menu
        return menu

    def addCommand(self, name, command="", shortcut="", icon="", **kwargs):
        _on_main_thread("addCommand")
        self.items[name] = {"command": command, "shortcut": shortcut, "icon": icon, "tooltip": kwargs.get("tooltip")}

    def findItem(self, name):
        head, _, rest = name.partition("/")
        item = self.items.get(head)
        return item.findItem(rest) if rest and isinstance(item, Menu) else item

    def addSeparator(self, **kwargs):
        pass

    def clearMenu(self):
        """ "Clears a menu": its commands and submenus are gone, the menu itself stays.

        https://learn.foundry.com/nuke/developers/160/pythondevguide/_autosummary/nuke.Menu.html
        """
        _on_main_thread("clearMenu")
        self.items.clear()
        return True


_menus = {}


def menu(name):
    """ "Find and return the Menu object with the given name"; "Raises RuntimeError: if Nuke isn't in GUI mode".

    https://learn.foundry.com/nuke/developers/140/pythondevguide/_autosummary/nuke.Menu.html
    """
    if not GUI:
        raise RuntimeError(f"nuke.menu({name!r}): Nuke is not in GUI mode")
    return _menus.setdefault(name, Menu(name))


def getPaneFor(name):
    """Stub: a pane is just its name here."""
    return name


tprinted = []


def tprint(*values):
    tprinted.append(" ".join(str(v) for v in values))


def pluginAddPath(path, addToSysPath=True):
    plugin_paths.append(path)
    if addToSysPath and path not in sys.path:
        sys.path.insert(0, path)


class Panel:
    """`nuke.Panel`, the simple modal form; a test sets `Panel.answers` (field -> value) and `Panel.accept`."""

    answers = {}
    accept = True
    shown = []

    def __init__(self, title):
        self.title = title
        self.fields = {}

    def _add(self, name, value):
        self.fields[name] = value

    addSingleLineInput = _add
    addPasswordInput = _add
    addMultilineTextInput = _add

    def show(self):
        Panel.shown.append(self)
        self.fields.update(Panel.answers)
        return 1 if Panel.accept else 0

    def value(self, name):
        return self.fields.get(name)


# --- scripts: .nk files ----------------------------------------------------------------------------------------------
# A .nk file is TCL: one block per node (`Read { file ... name Read1 }`), knob values as TCL words, user knobs
# declared by `addUserKnob {type name l label ...}`, a Group's nodes between its block and `end_group`, and inputs
# taken from the node stack (`set N [stack 0]`, `push $N`, `push 0` for none; a block's `inputs n` pops n).
# Nuke TCL reference: http://nukepedia.com/reference/Tcl/group__tcl__builtin.html (push, set, addUserKnob, end_group).
# The user-knob type numbers are those of that reference's addUserKnob.

_USER_TYPES = {
    1: String_Knob,
    2: File_Knob,
    3: Int_Knob,
    4: Enumeration_Knob,
    6: Boolean_Knob,
    7: Double_Knob,
    20: Tab_Knob,
    22: PyScript_Knob,
    26: Text_Knob,
    43: Multiline_Eval_String_Knob,
    61: Password_Knob,
}
_FLAG_NAMES = {STARTLINE: "STARTLINE", INVISIBLE: "INVISIBLE", DISABLED: "DISABLED", READ_ONLY: "READ_ONLY"}


def _quote(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Format):
        return _quote(f"{value.width()} {value.height()}")
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("[", "\\[").replace("]", "\\]")
    escaped = escaped.replace("$", "\\$").replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped + '"'


def _unquote(token):
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        escapes = {"n": "\n", "t": "\t"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), token[1:-1])
    if token.startswith("{") and token.endswith("}"):
        return token[1:-1]
    return token


def _user_knob_line(knob):
    words = [str(knob.type_id), knob.name()]
    if knob.label() != knob.name():
        words += ["l", _quote(knob.label())]
    if isinstance(knob, Enumeration_Knob):
        words += ["M", "{" + " ".join(_quote(v) for v in knob.values()) + "}"]
    if isinstance(knob, (PyScript_Knob, Text_Knob)):
        words += ["T", _quote(knob._value)]
    if knob.tooltip:
        words += ["t", _quote(knob.tooltip)]
    words += ["+" + label for flag, label in _FLAG_NAMES.items() if flag in knob.flags]
    return "addUserKnob {" + " ".join(words) + "}"


def _node_lines(node, ids):
    lines = [node.Class() + " {"]
    if node is not _ROOT:
        lines.append(f" inputs {node.inputs()}")
    user = set(id(k) for k in node._user)
    for knob in node._order:
        if id(knob) in user:
            lines.append(" " + _user_knob_line(knob))
            if not isinstance(knob, (PyScript_Knob, Text_Knob, Tab_Knob)):  # those hold their text in T
                lines.append(f" {knob.name()} {knob.toScript()}")
        elif knob.name() != "name" and knob.notDefault() and not isinstance(knob, PyScript_Knob):
            lines.append(f" {knob.name()} {knob.toScript()}")
    lines.append(" name {}".format(_quote(node.name()) if node is not _ROOT else _quote(_ROOT["name"]._value)))
    lines.append("}")
    return lines


def _ordered(children):
    """Children with each node's inputs before it (the stack needs them written first)."""
    done, order = set(), []

    def visit(node, path=()):
        if id(node) in done or node not in children:
            return
        if node in path:
            raise RuntimeError(f"nuke stub: a loop through {node.name()}")
        for upstream in node.dependencies():
            visit(upstream, path + (node,))
        done.add(id(node))
        order.append(node)

    for child in children:
        visit(child)
    return order


def _group_lines(group, ids):
    lines = []
    for node in _ordered(group._children):
        count = node.inputs()
        for index in reversed(range(count)):  # pushed last, input 0 ends on top of the stack
            upstream = node.input(index)
            lines.append(f"push ${ids[id(upstream)]}" if upstream is not None else "push 0")
        lines += _node_lines(node, ids)
        if node.Class() == "Group":
            lines += _group_lines(node, ids)
            lines.append("end_group")
        ids[id(node)] = f"N{len(ids) + 1}"
        lines.append(f"set {ids[id(node)]} [stack 0]")
    return lines


def _script_text():
    version = "{}.{} v{}".format(NUKE_VERSION_MAJOR, NUKE_VERSION_MINOR, NUKE_VERSION_STRING.split("v")[-1])
    lines = [f"#! {EXE_PATH} -nx", "version " + version]
    lines += _node_lines(_ROOT, {})
    lines += _group_lines(_ROOT, {})
    return "\n".join(lines) + "\n"


def scriptSaveAs(filename=None, overwrite=-1):
    """ "Saves the current script with the given file name"; the script's name becomes that file.

    https://learn.foundry.com/nuke/developers/150/pythondevguide/_autosummary/nuke.scriptSaveAs.html
    """
    _on_main_thread("scriptSaveAs")
    if not filename:
        raise RuntimeError("nuke stub: scriptSaveAs needs a file name without a GUI file chooser")
    if os.path.exists(filename) and overwrite == 0:
        raise RuntimeError(f"{filename}: already exists")
    _ROOT["name"]._value = str(filename)
    Path(filename).write_text(_script_text())


def scriptSave(filename=None):
    """Save to the script's own file; `filename` saves a copy "without changing the script name in the project".

    https://learn.foundry.com/nuke/developers/17.0/pythondevguide/_autosummary/nuke.scriptSave.html
    """
    _on_main_thread("scriptSave")
    target = filename or _ROOT["name"]._value
    if not target:
        raise RuntimeError("nuke stub: the script has no file name yet (use scriptSaveAs)")
    Path(target).write_text(_script_text())
    return True


def scriptClear():
    """Clear the script and reset the root's knobs (knob defaults, a session setting, stay)."""
    _on_main_thread("scriptClear")
    _new_script()


def scriptOpen(filename):
    """Open a saved .nk: its nodes, knobs, user knobs and connections, the root named after the file."""
    _on_main_thread("scriptOpen")
    _new_script()
    stacks, contexts, variables, pending = [[]], [_ROOT], {}, []
    lines = iter(Path(filename).read_text().splitlines())
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("version "):
            continue
        if line.startswith("push "):
            word = line[5:].strip()
            stacks[-1].append(None if word == "0" else variables[word.lstrip("$")])
            continue
        match = re.match(r"set (\S+) \[stack 0\]$", line)
        if match:
            variables[match.group(1)] = stacks[-1][-1]
            continue
        if line == "end_group":
            group = contexts.pop()
            stacks.pop()
            stacks[-1].append(group)
            continue
        match = re.match(r"(\w+) \{$", line)
        if not match:
            raise RuntimeError(f"{filename}: cannot read {line!r}")
        body = []
        for inner in lines:
            if inner.strip() == "}":
                break
            body.append(inner.strip())
        cls = match.group(1)
        node = _ROOT if cls == "Root" else Node(cls, contexts[-1])
        _load_knobs(node, body)
        if node is _ROOT:
            _ROOT["name"]._value = str(filename)
            continue
        count = int(next((b.split()[1] for b in body if b.startswith("inputs ")), "1"))
        upstream = [stacks[-1].pop() if stacks[-1] else None for _ in range(count)]
        # Inputs are connected once the node's own Input nodes exist (a Group's come after its block).
        pending += [(node, index, up) for index, up in enumerate(upstream) if up is not None]
        if cls == "Group":
            contexts.append(node)
            stacks.append([])
        else:
            stacks[-1].append(node)
    for node, index, upstream in pending:
        node._inputs[index] = upstream


def _load_knobs(node, body):
    for line in body:
        if line.startswith("inputs "):
            continue
        if line.startswith("addUserKnob {"):
            knob = _user_knob(line[len("addUserKnob {") : -1])
            knob._node = node
            node._knobs[knob.name()] = knob
            node._order.append(knob)
            node._user.append(knob)
            continue
        name, _, text = line.partition(" ")
        value = _unquote(text.strip())
        if name == "name" and node is not _ROOT:
            node._name = value
            node._knobs["name"]._value = value
            continue
        knob = node._knobs.get(name)
        if knob is None:
            raise RuntimeError(f"nuke stub: {node.Class()} has no knob {name!r} (in a saved script)")
        knob.fromScript(value)


def _user_knob(spec):
    words = re.findall(r'\{[^{}]*\}|"(?:[^"\\]|\\.)*"|\S+', spec)
    cls = _USER_TYPES[int(words[0])]
    name, rest = words[1], words[2:]
    label, values, text, tooltip, flags = None, [], None, "", []
    index = 0
    while index < len(rest):
        word = rest[index]
        if word in ("l", "M", "T", "t") and index + 1 < len(rest):
            argument = rest[index + 1]
            if word == "l":
                label = _unquote(argument)
            elif word == "M":
                values = [_unquote(v) for v in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', argument[1:-1])]
            elif word == "T":
                text = _unquote(argument)
            else:
                tooltip = _unquote(argument)
            index += 2
            continue
        flags.append(word)
        index += 1
    if cls is Enumeration_Knob:
        knob = Enumeration_Knob(name, label, values)
    elif cls in (PyScript_Knob, Text_Knob):
        knob = cls(name, label, text or "")
    else:
        knob = cls(name, label)
    knob.tooltip = tooltip
    by_name = {label_: flag for flag, label_ in _FLAG_NAMES.items()}
    for word in flags:
        if word.startswith("+") and word[1:] in by_name:
            knob.flags.add(by_name[word[1:]])
    return knob


# --- Roto / RotoPaint: the curves knob and its paint elements (nuke.rotopaint) --------------------------------------
# Only what the plugin reads: the element tree and control point positions. Each class follows its Foundry page;
# animated positions (keys) are not modelled: a point has the constant position `setPosition` gives it, which
# "is used when there are no keys" (AnimControlPoint).


class _CVec3:
    """curvelib.CVec3, "a 3-component vector" (x, y, z).
    https://learn.foundry.com/nuke/developers/132/pythondevguide/_autosummary/nuke.curvelib.html"""

    def __init__(self, x=0.0, y=0.0, z=0.0):
        self.x, self.y, self.z = float(x), float(y), float(z)


class _AnimControlPoint:
    """curvelib.AnimControlPoint: `getPosition(time, view)` -> CVec3 "Get the position of this control point at a
    particular time"; `setPosition` sets "the position used when there are no keys"; the view may be omitted.
    https://learn.foundry.com/nuke/developers/140/pythondevguide/_autosummary/nuke.curvelib.AnimControlPoint.html"""

    def __init__(self, *position):
        self._position = _CVec3(*position) if position else _CVec3()

    def setPosition(self, position, view="main"):
        self._position = position if isinstance(position, _CVec3) else _CVec3(*position)

    def getPosition(self, time, view="main"):
        return _CVec3(self._position.x, self._position.y, self._position.z)


class _ShapeControlPoint:
    """rotopaint.ShapeControlPoint: "groups together a 'center' location, along with tangents and feather offsets";
    the tangents and feather are offsets relative to the center.
    https://learn.foundry.com/nuke/developers/160/pythondevguide/_autosummary/nuke.rotopaint.ShapeControlPoint.html"""

    def __init__(self, *center):
        self.center = _AnimControlPoint(*center)
        self.leftTangent, self.rightTangent = _AnimControlPoint(), _AnimControlPoint()
        self.featherCenter = _AnimControlPoint()
        self.featherLeftTangent, self.featherRightTangent = _AnimControlPoint(), _AnimControlPoint()


class _Element:
    """rotopaint.Element: "the base class for the different types of elements"; `name`, "the name for this
    element", may be set. Elements are made on a curves knob: `Shape(curveKnob, *points)` (Shape page)."""

    def __init__(self, curve_knob):
        if not isinstance(curve_knob, _CurveKnob):
            raise TypeError("nuke stub: paint elements are made on a node's curves knob, Shape(node['curves'])")
        self.name = ""


class _Sequence(_Element):
    """len() and array-style access to an element's members (Shape, Stroke), as their pages describe; a Layer
    "is an iterator object that yields the members of that layer" (Roto and RotoPaint)."""

    _item = None

    def __init__(self, curve_knob, *points):
        super().__init__(curve_knob)
        self._items = []
        for point in points:
            self.append(point)

    def append(self, item):
        self._items.append(item if isinstance(item, self._item) else self._item(*item))

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __iter__(self):
        return iter(list(self._items))


class _Shape(_Sequence):
    """rotopaint.Shape: "represented as a sequence of ShapeControlPoint objects" (len(), shape[0], shape[-1]).
    https://learn.foundry.com/nuke/developers/160/pythondevguide/_autosummary/nuke.rotopaint.Shape.html"""

    _item = _ShapeControlPoint


class _Stroke(_Sequence):
    """rotopaint.Stroke: "a paint stroke is represented as a sequence of AnimControlPoint objects"; `append` takes
    an AnimControlPoint "or a sequence of 2, 3 or 4 floats".
    https://learn.foundry.com/nuke/developers/122/pythonreference/_curveknob.Stroke-class.html"""

    _item = _AnimControlPoint


class _Layer(_Sequence):
    """rotopaint.Layer: "used to group other elements in the paint tree"."""

    def append(self, item):
        self._items.append(item)


class _CurveKnob(Knob):
    """The curves knob, "the knob which holds the tree of paint elements (Layers, Shapes and Strokes)": its
    `rootLayer`, and `toElement('Layer1/Brush1')` to reach an element by its path of names (Roto and RotoPaint).
    https://learn.foundry.com/nuke/developers/132/pythondevguide/_autosummary/nuke.curveknob.html"""

    def __init__(self, name, label=None):
        super().__init__(name, label)
        self.rootLayer = _Layer(self)
        self.rootLayer.name = "Root"

    def toElement(self, path):
        element = self.rootLayer
        for name in path.split("/"):
            element = next((e for e in element if e.name == name), None)
            if element is None:
                raise ValueError(f"nuke stub: no element {path!r} in {self.name()}")
        return element

    def changed(self):
        """ "It is advisable to call changed() on the 'curves' knob after making modifications" (AnimControlPoint)."""

    def Class(self):
        return "CurveKnob"


import types as _types  # noqa: E402

# `import nuke.rotopaint as rp`: "In here are the classes for Shape, Stroke, Layer, ShapeControlPoint,
# AnimControlPoints, and many more" (Roto and RotoPaint).
rotopaint = _types.ModuleType("nuke.rotopaint")
rotopaint.Shape, rotopaint.Stroke, rotopaint.Layer, rotopaint.Element = _Shape, _Stroke, _Layer, _Element
rotopaint.ShapeControlPoint, rotopaint.AnimControlPoint = _ShapeControlPoint, _AnimControlPoint
rotopaint.CVec3 = _CVec3
rotopaint.CurveKnob = _CurveKnob
sys.modules["nuke.rotopaint"] = rotopaint
