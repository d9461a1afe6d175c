"""A recording stub of exactly the `nuke` calls the dreamplate plugin makes, faithful where the plugin depends on it.

- Nodes live in a tree of Groups (`root()`), created with `createNode` (connects to the selected node, as Nuke does)
  or `nodes.Class(knob=value)`; `Group.begin()`/`end()` switch the context; `toNode`, `allNodes`, `thisNode`.
- Knobs hold typed values (`Int_Knob` ints, `Enumeration_Knob` one of its values, else ValueError) and evaluate the
  TCL the plugin uses (`[value root.name]`, `[value this.name]`, `[file dirname ...]`).
- Nodes and knobs may only be changed on the main thread (AssertionError otherwise), as in Nuke, where doing so
  from a worker crashes; `executeInMainThread` queues calls that the test runs with `pump()`.
- `execute(write, first, last)` writes real half (or float) EXRs of the upstream pixels: Read frames read with
  `dreamplate.io.exr`, `Grade` multiplies RGB by its `multiply`, a Group's Input takes the Group's input, a
  Switch its `which` input, anything else passes its input 0. Nuke's EXR writer tags no colour space; nor does this.
- `ProgressTask` records messages and progress; a test cancels it with `cancel()`. `message` records its text.
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
NUKE_VERSION_STRING = "15.1v3"
EXE_PATH = "/opt/Nuke15.1v3/Nuke15.1"

OCIO_COLORSPACES = [
    "scene_linear",
    "ACEScg",
    "ACES2065-1",
    "Linear Rec.709 (sRGB)",
    "sRGB Encoded Rec.709 (sRGB)",
    "raw",
]
NUKE_COLORSPACES = ["linear", "sRGB", "rec709", "Cineon", "raw"]

messages = []  # every nuke.message text, in order
plugin_paths = []
_main_queue = queue.Queue()
_MAIN = threading.main_thread()
_this = threading.local()


def _on_main_thread(what):
    if threading.current_thread() is not _MAIN:
        raise AssertionError(f"nuke stub: {what} called off the main thread (use nuke.executeInMainThread)")


# --- knobs -----------------------------------------------------------------------------------------------------------


class Knob:
    default = ""

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
        return self._value

    def setValue(self, value):
        _on_main_thread(f"{self._name}.setValue")
        self._value = self._coerce(value)
        return True

    def evaluate(self):
        return _tcl(str(self._value), self._node)

    def setFlag(self, flag):
        self.flags.add(flag)

    def clearFlag(self, flag):
        self.flags.discard(flag)

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


class File_Knob(String_Knob):
    pass


class EvalString_Knob(String_Knob):
    pass


class Multiline_Eval_String_Knob(String_Knob):
    pass


class Password_Knob(String_Knob):
    pass


class Int_Knob(Knob):
    default = 0

    def _coerce(self, value):
        return int(value)

    def setRange(self, low, high):
        self.range = (low, high)


class Double_Knob(Knob):
    default = 0.0

    def _coerce(self, value):
        return float(value)

    def setRange(self, low, high):
        self.range = (low, high)


class Boolean_Knob(Knob):
    default = False

    def _coerce(self, value):
        return bool(value)


class Enumeration_Knob(Knob):
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


class Text_Knob(Knob):
    def __init__(self, name, label=None, text=""):
        super().__init__(name, label, text)


class Tab_Knob(Knob):
    pass


class PyScript_Knob(Knob):
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


STARTLINE = 0x1000
INVISIBLE = 0x400
DISABLED = 0x80
READ_ONLY = 0x10000000
NO_ANIMATION = 0x100


# --- nodes -----------------------------------------------------------------------------------------------------------


def _class_knobs(cls):
    """The built-in knobs of the node classes the plugin creates (only those it reads or sets)."""
    spaces = _colorspaces()
    if cls == "Read":
        return [
            File_Knob("file"),
            Int_Knob("first", value=1),
            Int_Knob("last", value=1),
            Int_Knob("origfirst", value=1),
            Int_Knob("origlast", value=1),
            Enumeration_Knob("colorspace", values=spaces),
            Boolean_Knob("raw"),
            PyScript_Knob("reload"),
        ]
    if cls == "Write":
        return [
            File_Knob("file"),
            Enumeration_Knob("file_type", values=["exr", "tiff", "png", "jpeg", "dpx"]),
            Enumeration_Knob("datatype", values=["16 bit half", "32 bit float"]),
            Enumeration_Knob(
                "compression", values=["Zip (1 scanline)", "Zip (16 scanlines)", "PIZ Wavelet (32 scanlines)", "none"]
            ),
            Enumeration_Knob("channels", values=["rgba", "rgb", "all"]),
            Enumeration_Knob("colorspace", values=spaces),
            Boolean_Knob("raw"),
            Boolean_Knob("create_directories"),
            Boolean_Knob("disable"),
        ]
    if cls == "Switch":
        return [Int_Knob("which")]
    if cls == "Input":
        return [Int_Knob("number")]
    if cls == "Grade":
        return [Double_Knob("multiply", value=1.0)]
    if cls == "Root":
        return [
            File_Knob("name"),
            Int_Knob("first_frame", value=1),
            Int_Knob("last_frame", value=100),
            Double_Knob("fps", value=24.0),
            Enumeration_Knob("colorManagement", values=["Nuke", "OCIO"]),
            Enumeration_Knob("OCIO_config", values=["nuke-default", "aces_1.2", "custom"]),
            File_Knob("customOCIOConfigPath"),
            Enumeration_Knob("workingSpaceLUT", values=OCIO_COLORSPACES + NUKE_COLORSPACES),
        ]
    return []


def _colorspaces():
    root_node = _ROOT if "_ROOT" in globals() else None
    if root_node is not None and root_node["colorManagement"].value() == "OCIO":
        return list(OCIO_COLORSPACES)
    return list(NUKE_COLORSPACES)


class Node:
    def __init__(self, cls, parent=None):
        self._class = cls
        self._knobs = {}
        self._inputs = {}
        self._parent = parent
        self._children = []
        self._selected = False
        # Names are unique within their group, numbered from 1 per class, as Nuke numbers them.
        taken = {child.name() for child in parent._children} if parent is not None else set()
        number = 1
        while f"{cls}{number}" in taken:
            number += 1
        self._name = f"{cls}{number}" if cls != "Root" else "root"
        self.addKnob(String_Knob("name", value=self._name))
        for knob in _class_knobs(cls):
            self.addKnob(knob)
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
        return dict(self._knobs)

    def addKnob(self, knob):
        if self._class != "Root" and self._knobs:
            _on_main_thread("addKnob")
        knob._node = self
        self._knobs[knob.name()] = knob

    # graph
    def input(self, index):
        return self._inputs.get(index)

    def setInput(self, index, node):
        _on_main_thread("setInput")
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node
        return True

    def inputs(self):
        return max(self._inputs) + 1 if self._inputs else 0

    def dependencies(self):
        return [self._inputs[i] for i in sorted(self._inputs)]

    def setSelected(self, selected):
        self._selected = bool(selected)

    def isSelected(self):
        return self._selected

    # frame range
    def firstFrame(self):
        if self._class == "Read":
            return self["first"].value()
        if self._class == "Input" and self._parent is not None:
            upstream = self._parent.input(self["number"].value())
            return upstream.firstFrame() if upstream else _ROOT["first_frame"].value()
        if self._class == "Group":
            output = self._output()
            return output.firstFrame() if output else _ROOT["first_frame"].value()
        upstream = self.input(0)
        return upstream.firstFrame() if upstream else _ROOT["first_frame"].value()

    def lastFrame(self):
        if self._class == "Read":
            return self["last"].value()
        if self._class == "Input" and self._parent is not None:
            upstream = self._parent.input(self["number"].value())
            return upstream.lastFrame() if upstream else _ROOT["last_frame"].value()
        if self._class == "Group":
            output = self._output()
            return output.lastFrame() if output else _ROOT["last_frame"].value()
        upstream = self.input(0)
        return upstream.lastFrame() if upstream else _ROOT["last_frame"].value()

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


_ROOT = Node("Root")
_context = [_ROOT]


def root():
    return _ROOT


def thisNode():
    node = getattr(_this, "node", None)
    return node if node is not None else _context[-1]


def thisGroup():
    return _context[-1]


def reset():
    """Test helper: a new empty script (Root defaults back, counters, messages and queues cleared)."""
    global _ROOT
    _ROOT = Node("Root")
    _context[:] = [_ROOT]
    del messages[:]
    del ProgressTask.instances[:]
    while not _main_queue.empty():
        _main_queue.get_nowait()


def createNode(cls, knobs="", inpanel=True):
    """Create in the current context; like Nuke, connect input 0 to the (one) selected node and select the new one."""
    _on_main_thread("createNode")
    parent = _context[-1]
    selected = [n for n in parent._children if n.isSelected()]
    node = Node(cls, parent)
    if len(selected) == 1 and cls not in ("Read", "Root"):
        node.setInput(0, selected[0])
    for other in parent._children:
        other.setSelected(False)
    node.setSelected(True)
    return node


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


def delete(node):
    _on_main_thread("delete")
    if node._parent is not None:
        node._parent._children.remove(node)


# --- TCL: what the plugin's knob expressions use ---------------------------------------------------------------------


def _tcl(text, node):
    pattern = re.compile(r"\[([^\[\]]*)\]")
    while True:
        match = pattern.search(text)
        if not match:
            return text
        text = text[: match.start()] + _tcl_command(match.group(1).split(), node) + text[match.end() :]


def _tcl_command(words, node):
    if words[:1] == ["value"] and len(words) == 2:
        target, _, knob = words[1].rpartition(".")
        owner = _ROOT if target == "root" else node if target == "this" else toNode(target)
        if owner is None:
            raise RuntimeError(f"tcl: no node {target!r}")
        value = owner[knob].value()
        return str(value)
    if words[:2] == ["file", "dirname"]:
        return os.path.dirname(" ".join(words[2:]))
    if words[:2] == ["file", "rootname"]:
        return os.path.splitext(" ".join(words[2:]))[0]
    if words[:2] == ["file", "tail"]:
        return os.path.basename(" ".join(words[2:]))
    raise RuntimeError("nuke stub: TCL {!r} is not modelled".format(" ".join(words)))


# --- rendering -------------------------------------------------------------------------------------------------------


def _frame_file(pattern, frame):
    def fill(match):
        token = match.group(0)
        width = len(token) if token[0] == "#" else int(match.group(1) or 0)
        return "{:0{}d}".format(frame, width)

    return re.sub(r"#+|%0?(\d*)d", fill, pattern, count=1)


def _pixels(node, frame):
    """The upstream image at `frame` as a dreamplate ExrImage (channels float32); what Nuke's engine would compute."""
    from dreamplate.io.exr import read_exr

    if node is None:
        raise RuntimeError("nuke stub: a disconnected input")
    cls = node.Class()
    if cls == "Read":
        path = _frame_file(node["file"].evaluate(), frame)
        if not os.path.isfile(path):
            raise RuntimeError(f"{node.name()}: Read error: {path}: No such file or directory")
        return read_exr(Path(path))
    if cls == "Input":
        return _pixels(node._parent.input(node["number"].value()), frame)
    if cls == "Group":
        return _pixels(node._output(), frame)
    if cls == "Switch":
        return _pixels(node.input(node["which"].value()), frame)
    image = _pixels(node.input(0), frame)
    if cls == "Grade":
        gain = node["multiply"].value()
        for channel in ("R", "G", "B"):
            if channel in image.channels:
                image.channels[channel] = image.channels[channel].astype("float32") * gain
    return image


executed = []  # (write node full name, first, last) for each execute call


def execute(node, first, last, incr=1):
    """Render a Write over [first, last]: real EXR files of the upstream pixels."""
    _on_main_thread("execute")
    from dreamplate.io.exr import ExrImage, write_exr

    if isinstance(node, str):
        node = toNode(node)
    if node is None or node.Class() != "Write":
        raise ValueError(f"nuke stub: execute() takes a Write node here, got {node!r}")
    executed.append((node.fullName(), first, last))
    pattern = node["file"].evaluate()
    if node["file_type"].value() != "exr":
        raise RuntimeError("nuke stub: only exr Writes are modelled")
    pixel_type = "half" if node["datatype"].value() == "16 bit half" else "float"
    wanted = {"rgb": ("R", "G", "B"), "rgba": ("R", "G", "B", "A")}.get(node["channels"].value())
    for frame in range(first, last + 1, incr):
        image = _pixels(node.input(0), frame)
        channels = {k: v for k, v in image.channels.items() if wanted is None or k in wanted}
        path = _frame_file(pattern, frame)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            if not node["create_directories"].value():
                raise RuntimeError(f"{node.name()}: Can't write {path}: directory does not exist")
            os.makedirs(folder)
        # Nuke's EXR writer carries no colour-space tag: the header has only windows, channels and compression.
        write_exr(
            Path(path),
            ExrImage(
                channels=channels,
                pixel_types=dict.fromkeys(channels, pixel_type),
                data_window=image.data_window,
                display_window=image.display_window,
                attributes={},
            ),
        )


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
    _main_queue.put((call, tuple(args) if isinstance(args, (tuple, list)) else (args,), kwargs or {}))


def executeInMainThreadWithResult(call, args=(), kwargs=None):
    if threading.current_thread() is _MAIN:
        return call(*args, **(kwargs or {}))
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
        menu = self.items.get(name)
        if not isinstance(menu, Menu):
            menu = Menu(name)
            menu.icon = icon
            self.items[name] = menu
        return menu

    def addCommand(self, name, command="", shortcut="", icon="", **kwargs):
        self.items[name] = {"command": command, "shortcut": shortcut, "icon": icon}

    def findItem(self, name):
        head, _, rest = name.partition("/")
        item = self.items.get(head)
        return item.findItem(rest) if rest and isinstance(item, Menu) else item

    def addSeparator(self, **kwargs):
        pass


_menus = {}


def menu(name):
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


def scriptOpen(path):
    """Stub only: a 'script' here is a Python file that builds the comp with this module."""
    with open(path) as handle:
        exec(compile(handle.read(), path, "exec"), {"nuke": sys.modules[__name__]})
