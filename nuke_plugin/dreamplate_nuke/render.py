"""Render a dreamplate node: inputs to files, the job to the server, progress and cancel, the result into the node.

GUI: `render_node` returns at once; a worker thread follows the job under a `nuke.ProgressTask` whose Cancel button
cancels the job on the server, and every node or knob change goes through `nuke.executeInMainThread` (Nuke crashes
when a worker thread edits the DAG). Headless (`nuke -t`, farms): the same call blocks, prints one progress line per
change and raises `RenderError` on failure, so a script exits non-zero.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import nuke

from dreamplate.client import TERMINAL_STATES, Client, ClientError
from dreamplate_nuke import candidates, legacy, mapping, nodes, prefs

log = logging.getLogger(__name__)

TEMP_FOLDER = ".dreamplate_in"
TEMP_WRITE = "dp_write_"
TEMP_COMPRESSION = "Zip (1 scanline)"
"""Lossless, and Nuke's own default for EXR."""
POLL_ERRORS_ALLOWED = 20
"""Consecutive failed polls (server restarting, say) before a followed job is reported as lost."""


class RenderError(Exception):
    """A render that did not produce a result; the message names the node, the job and the server's reason."""


class RenderHandle(object):
    """A render in progress (GUI): `thread` follows the job; `job` is the final job dict once `done` is set."""

    def __init__(self, node_name: str, job_id: str, output: str) -> None:
        self.node_name = node_name
        self.job_id = job_id
        self.output = output
        self.thread = None  # type: Optional[threading.Thread]
        self.job = {}  # type: Dict[str, Any]
        self.done = threading.Event()


def make_client(settings: Optional[prefs.Prefs] = None) -> Client:
    settings = settings or prefs.load()
    return Client(settings.url, settings.token_or_none(), timeout=10.0)


# --- colour: what Nuke's session says ---------------------------------------------------------------------------------


def ocio_settings() -> Dict[str, str]:
    """`{"colorspace": working space, "ocio": config path}` under OCIO colour management; {} under Nuke's own.

    Only a config that is a file is passed on (a custom config or `$OCIO`); Nuke's built-in configs are not files
    the server can open, and the server resolves the working-space name in its own config (`dreamplate doctor`).
    """
    root = nuke.root()
    management = root.knob("colorManagement")
    if management is None or management.value() != "OCIO":
        return {}
    settings = {}
    working = root.knob("workingSpaceLUT")
    if working is not None and working.value():
        settings["colorspace"] = _plain_colorspace(str(working.value()))
    config = ""
    custom = root.knob("customOCIOConfigPath")
    config_menu = root.knob("OCIO_config")
    if config_menu is not None and config_menu.value() == "custom" and custom is not None:
        config = custom.evaluate() or ""
    config = config or os.environ.get("OCIO", "")
    if config and os.path.isfile(config):
        settings["ocio"] = config
    return settings


_DEFAULT_FORM = re.compile(r"^default \((.*)\)$")


def _plain_colorspace(name: str) -> str:
    """`default (ACEScg)` -> `ACEScg`; any other name is kept whole (`Linear Rec.709 (sRGB)` is one colour space).

    Nuke lists what its default option stands for in brackets; only that form is unwrapped.
    """
    name = name.split("\t")[0].strip()
    match = _DEFAULT_FORM.match(name)
    return match.group(1).strip() if match else name


def _menu_names(knob: Any) -> Dict[str, str]:
    """Each name a colour-space knob's menu accepts -> the menu name to set (its roles and aliases included).

    `nuke.getColorspaceList` gives the items as the knob's value spells them (families stripped); after a tab an
    item may carry a role's target in brackets or its aliases, as ayon-nuke reads them. A name of its own wins over
    another item's alias or role target. The `default (...)` item is not a colour space and is left out.
    """
    listing = getattr(nuke, "getColorspaceList", None)
    items = listing(knob) if listing is not None else [str(v).split("/")[-1] for v in knob.values()]
    names = {}  # type: Dict[str, str]
    others = {}  # type: Dict[str, str]
    for item in items:
        primary, _, rest = str(item).partition("\t")
        primary, rest = primary.strip(), rest.strip()
        if not primary or _DEFAULT_FORM.match(primary):
            continue
        names[primary] = primary
        if rest.startswith("(") and rest.endswith(")"):
            extra = [rest[1:-1]]  # a role: the colour space it stands for
        else:
            extra = re.split(r"[\t,]+", rest)  # aliases
        for other in extra:
            if other.strip():
                others.setdefault(other.strip(), primary)
    for other, primary in others.items():
        names.setdefault(other, primary)
    return names


def _set_colorspace_knob(knob: Any, candidates: List[str]) -> str:
    """Set `knob` to the first candidate its menu holds (checked first: a name missing from the config is not
    for Nuke to guess); returns the menu name set, or "" when the menu has none of them."""
    menu = _menu_names(knob)
    for name in candidates:
        chosen = menu.get(name)
        if chosen is None:
            continue
        try:
            knob.setValue(chosen)
        except ValueError:  # listed but refused (a menu Nuke rebuilt meanwhile): try the next name
            continue
        return chosen
    return ""


# --- inputs: a plain EXR Read is sent as is, anything else through a temporary Write ---------------------------------


def _absolute(path: str, what: str) -> str:
    """`path` made absolute the way Nuke reads it: relative names are under the project directory."""
    if os.path.isabs(path):
        return path
    project = nuke.root().knob("project_directory")
    folder = str(project.evaluate() or "") if project is not None else ""
    if folder and os.path.isabs(folder):
        return os.path.join(folder, path)
    raise RenderError("{}: {!r} is a relative path and the project has no directory: save the script or give a "
                      "full path".format(what, path))


def output_pattern(group: Any) -> str:
    """The node's output: its TCL evaluated, its frame tokens kept (`%04d` or `####`), as an absolute path.

    `Knob.evaluate()` would put the current frame in place of the tokens (`.1012.exr`), so only the TCL is
    evaluated, with `subst` in the node's own context; `subst` leaves `%04d` and `####` alone. An unsaved
    script's `[file dirname [value root.name]]` is `.`, and a relative output is refused, not guessed.
    """
    text = str(group["output"].value()).strip()
    if "[" in text or "$" in text:
        # A TCL error (an unknown command, unbalanced braces) is Nuke's RuntimeError, reported as "cannot submit".
        text = str(nuke.tcl("in", group.fullName(), "subst {" + text + "}")).strip()
    if not text:
        raise RenderError("{}: output: give an output file pattern".format(group.name()))
    if not os.path.isabs(text):
        raise RenderError("{}: output {} is not a full path: save the script first, or give a full output "
                          "path".format(group.name(), text))
    if not mapping.is_sequence(text):
        raise RenderError("{}: output {}: give a frame pattern such as name.####.exr".format(group.name(), text))
    return text


def _plain_exr_read(node: Any, frames: Tuple[int, int]) -> bool:
    """A Read the server can take file for file: EXR, pixels as on disk and frames as numbered on disk.

    Not plain, so rendered through a temporary Write: raw data on (Nuke shows unconverted values), a frame offset
    or expression (Nuke's frame N is not file N), proxy mode reading the proxy files, the node disabled, or a
    wanted frame outside its range (Nuke holds the end frame; the server would find no file).
    """
    if node is None or node.Class() != "Read":
        return False
    path = nuke.filename(node) or ""
    if not path.lower().endswith(".exr"):
        return False
    for name in ("raw", "disable"):
        knob = node.knob(name)
        if knob is not None and knob.value():
            return False
    offset = node.knob("frame")
    if offset is not None and str(offset.value()).strip():
        return False
    proxy_mode, proxy = nuke.root().knob("proxy"), node.knob("proxy")
    if proxy_mode is not None and proxy_mode.value() and proxy is not None and str(proxy.value()).strip():
        return False
    return int(node["first"].value()) <= frames[0] and frames[1] <= int(node["last"].value())


def _input_file(group: Any, name: str, index: int, frames: Tuple[int, int], color: Dict[str, str], output: str,
                single: bool, primary: bool) -> str:
    """A file pattern (or one file, when `single`) the server can read for input `index` over `frames`.

    `name` names the input (its temporary files and Write); the `primary` input's Read says what colour space the
    job's inputs are in.
    """
    upstream = group.input(index)
    if upstream is None:
        raise RenderError("{}: connect the {} input".format(group.name(), name.replace("_", " ")))
    if _plain_exr_read(upstream, frames):
        # nuke.filename: commands and variables expanded, the frame pattern kept (the knob's evaluate() would give
        # the current frame's file).
        pattern = _absolute(nuke.filename(upstream), "{}: {}".format(group.name(), upstream.name()))
        if color.get("colorspace") and primary:
            # The Read says what its files are in: that, not the working space, is the plate's colour space.
            read_space = _plain_colorspace(str(upstream["colorspace"].value()))
            if read_space and read_space != "default":
                color["colorspace"] = read_space
        return mapping.frame_path(pattern, frames[0]) if single and mapping.is_sequence(pattern) else pattern
    # Anything else is rendered by Nuke: a temporary half EXR sequence of the node's input, in the working space.
    folder = os.path.join(os.path.dirname(output), TEMP_FOLDER)
    pattern = os.path.join(folder, "{}.####.exr".format(name))
    group.begin()
    try:
        stale = group.node(TEMP_WRITE + name)  # left enabled in the group by an older plugin
        if stale is not None:
            nuke.delete(stale)
        write = nuke.nodes.Write()
        try:
            write.setName(TEMP_WRITE + name)
            source = next(n for n in group.nodes() if n.Class() == "Input" and n["number"].value() == index)
            write.setInput(0, source)
            write["file"].setValue(pattern)
            write["file_type"].setValue("exr")
            write["datatype"].setValue("16 bit half")
            # Set, not left to the studio's knob default: a lossy default (DWAA, B44) would change the plate.
            write["compression"].setValue(TEMP_COMPRESSION)
            write["channels"].setValue("rgba")
            write["create_directories"].setValue(True)
            if color.get("colorspace") and not _set_colorspace_knob(write["colorspace"], [color["colorspace"]]):
                # The Write's menu lacks the working space's name: say what the files are really in.
                color["colorspace"] = _plain_colorspace(str(write["colorspace"].value()))
            nuke.execute(write, frames[0], frames[0] if single else frames[1])
        finally:
            # Gone once rendered: farm submitters search groups for Writes and would render this one again.
            nuke.delete(write)
    finally:
        group.end()
    if not color.get("colorspace"):
        # Nuke's own colour management works in linear with Rec.709 primaries; say so, as the file cannot.
        color["colorspace"] = "lin_rec709"
    return mapping.frame_path(pattern, frames[0]) if single else pattern


_VALUE_KNOBS = ("String_Knob", "EvalString_Knob", "Multiline_Eval_String_Knob", "File_Knob", "Int_Knob",
                "Double_Knob", "Boolean_Knob", "Enumeration_Knob")


def _knob_values(group: Any) -> Dict[str, Any]:
    """The node's dreamplate settings: value knobs from its dreamplate tab on (the Group's built-ins come before)."""
    values, ours = {}, False  # type: Dict[str, Any], bool
    for knob in group.allKnobs():
        if knob.Class() == "Tab_Knob" and knob.name() == nodes.TAB:
            ours = True
        elif ours and knob.Class() in _VALUE_KNOBS:
            values[knob.name()] = knob.value()
    return values


def prepare(group: Any, settings: prefs.Prefs) -> Dict[str, Any]:
    """The job for `group`: knob values gathered, inputs written where needed, paths mapped for the server.

    The node's own record of its operation (`nodes.op_of`) says what its knobs and inputs are; no description from
    the server is needed, so a saved script renders wherever it opens. A node saved before nodes kept that record
    renders as it did (`legacy`).
    """
    kind = nodes.kind_of(group)
    if not kind:
        raise RenderError("{}: not a dreamplate node".format(group.name()))
    try:
        op = nodes.op_of(group)
    except mapping.SpecError as exc:
        raise RenderError(str(exc)) from None
    if op is None:
        if not legacy.is_legacy(kind):
            raise RenderError("{}: a dreamplate {} node without its operation record".format(group.name(), kind))
        return _prepare_legacy(group, kind, settings)
    knobs = _knob_values(group)
    if op["range"] and knobs.get("use_input_range", True) and group.input(0) is not None:
        knobs["range_first"], knobs["range_last"] = group.input(0).firstFrame(), group.input(0).lastFrame()
    output = output_pattern(group)
    for field in op["fields"]:
        if field["place"] == "knob" and field["kind"] in mapping.PATH_KINDS and knobs.get(field["knob"]):
            knobs[field["knob"]] = _path_setting(group, field, str(knobs[field["knob"]]))
    color = ocio_settings()
    inputs = {}
    for index, entry in enumerate(op["inputs"]):
        if entry["optional"] and group.input(index) is None:
            continue
        if entry["frame_knob"]:
            frames = (int(knobs[entry["frame_knob"]]),) * 2
        elif entry["single"] and group.input(index) is not None:
            first = group.input(index).firstFrame()
            frames = (first, first)
        else:
            frames = (int(knobs["range_first"]), int(knobs["range_last"]))
        inputs[entry["label"]] = _input_file(group, entry["name"], index, frames, color, output,
                                             single=entry["single"], primary=index == 0)
    try:
        return mapping.build_job(op, knobs, inputs, output, color, settings.maps)
    except mapping.SpecError as exc:
        raise RenderError("{}: {}".format(group.name(), exc)) from None


def _path_setting(group: Any, field: Dict[str, Any], text: str) -> str:
    """A file setting as the server needs it: its TCL evaluated in the node (frame tokens kept), made absolute.

    A word the setting takes instead of a path (a matte's `alpha`) is left as it is.
    """
    if text.strip().lower() in field.get("words", []):
        return text.strip()
    if "[" in text or "$" in text:
        text = str(nuke.tcl("in", group.fullName(), "subst {" + text + "}")).strip()
    return _absolute(text, "{}: {}".format(group.name(), field["knob"]))


def _prepare_legacy(group: Any, kind: str, settings: prefs.Prefs) -> Dict[str, Any]:
    """The job of a node saved before nodes kept their operation record: built as the node was built to send it."""
    knobs = _knob_values(group)
    if kind in legacy.RANGE_KINDS and knobs.get("use_input_range", True) and group.input(0) is not None:
        knobs["range_first"], knobs["range_last"] = group.input(0).firstFrame(), group.input(0).lastFrame()
    output = output_pattern(group)
    color = ocio_settings()
    inputs = {}
    for index, (role, _) in enumerate(legacy.INPUTS[kind]):
        if role in legacy.OPTIONAL_ROLES and group.input(index) is None:
            continue
        if role in ("key_a", "key_b"):
            frames = (int(knobs[role + "_frame"]),) * 2
        elif role == "light":
            first = group.input(index).firstFrame()
            frames = (first, first)
        else:
            frames = (int(knobs["range_first"]), int(knobs["range_last"]))
        inputs[role] = _input_file(group, role, index, frames, color, output, single=role != "plate",
                                   primary=role == "plate")
    try:
        return legacy.build_job(kind, knobs, inputs, output, color, settings.maps)
    except mapping.SpecError as exc:
        raise RenderError("{}: {}".format(group.name(), exc)) from None


# --- following the job ------------------------------------------------------------------------------------------------


def _describe(job: Dict[str, Any]) -> str:
    done, total = job.get("frames_done", 0), job.get("frames_total", 0)
    frames = " {}/{} frames".format(done, total) if total else ""
    return "{}{}".format(job.get("state", "?"), frames)


def follow(client: Client, job_id: str, poll_seconds: float, on_change: Any, cancelled: Any = None
           ) -> Dict[str, Any]:
    """Poll the job until it ends; `on_change(job)` on each change; `cancelled()` true asks the server to cancel.

    Polling rather than the event stream: the ProgressTask's Cancel button can only be seen by asking it, so the
    loop wakes every `poll_seconds` anyway, and one GET per wake is cheap on loopback.
    """
    last, cancel_sent, errors = None, False, 0
    while True:
        if cancelled is not None and not cancel_sent and cancelled():
            client.cancel(job_id)
            cancel_sent = True
        try:
            job = client.job(job_id)
            errors = 0
        except ClientError as exc:
            errors += 1
            if exc.status is not None or errors > POLL_ERRORS_ALLOWED:
                raise
            time.sleep(poll_seconds)
            continue
        key = (job.get("state"), job.get("frames_done"), job.get("message"))
        if key != last:
            on_change(job)
            last = key
        if job.get("state") in TERMINAL_STATES:
            return job
        time.sleep(poll_seconds)


def result_range(pattern: str, first: int, total: int) -> Tuple[int, int]:
    """The result's first and last frame: `total` frames from `first` when all are on disk, else what the disk holds."""
    if total and all(os.path.isfile(mapping.frame_path(pattern, f)) for f in (first, first + total - 1)):
        return first, first + total - 1
    found = mapping.existing_frames(pattern)
    if not found:
        raise RenderError("{}: the job finished but no frames are there".format(pattern))
    return found[0], found[-1]


def _result_first_frame(group: Any) -> int:
    """Where the result starts: a keyframes node's first frame, else the first frame of its range."""
    if group.knob("first_frame") is not None:
        return int(group["first_frame"].value())
    knobs = _knob_values(group)
    if knobs.get("use_input_range", True) and group.input(0) is not None:
        return int(group.input(0).firstFrame())
    return int(knobs.get("range_first", 1))


def apply_result(group: Any, job: Dict[str, Any], output: str) -> str:
    """Point the node's result Read at the frames (range and colour space from the files); returns a status line."""
    read = group.node(nodes.RESULT_READ)
    pattern = mapping.hash_pattern(output)
    first, last = result_range(output, _result_first_frame(group), int(job.get("frames_total") or 0))
    # As typed into the file field: Nuke reads the frames' format (a draft is half size) and takes the range.
    read["file"].fromUserText("{} {}-{}".format(pattern, first, last))
    space = _set_colorspace(read, mapping.frame_path(output, first))
    reload = read.knob("reload")
    if reload is not None:
        reload.execute()
    group.node(nodes.SWITCH)["which"].setValue(1)
    shown = candidates.show(group, output)  # a --candidates render: its contact sheet and a choice of candidate
    chosen = " candidate {} of {},".format(shown["chosen"], len(shown["candidates"])) if shown else ""
    return "done: job {},{} frames {}-{} ({})".format(job["id"], chosen, first, last, space or "colour space untagged")


def _set_colorspace(read: Any, frame_file: str) -> str:
    """Set the Read to the colour space the server tagged the result with; returns the name used."""
    try:
        candidates = mapping.colorspace_candidates(mapping.exr_string_attributes(frame_file))
    except (OSError, mapping.SpecError) as exc:
        log.warning("dreamplate: %s: cannot read its colour tag (%s)", frame_file, exc)
        candidates = []
    if nuke.root()["colorManagement"].value() != "OCIO":
        candidates.append("linear")  # Nuke's own colour management knows only its linear
    chosen = _set_colorspace_knob(read["colorspace"], candidates)
    if candidates and not chosen:
        log.warning("dreamplate: %s: Nuke's colour config has none of %s", frame_file, ", ".join(candidates))
    return chosen


def _failure(job: Dict[str, Any]) -> str:
    return "job {} {}: {}".format(job.get("id"), job.get("state"), job.get("error") or job.get("message") or "no reason given")


# --- entry points -----------------------------------------------------------------------------------------------------


def render_node(node: Any = None, block: Optional[bool] = None, settings: Optional[prefs.Prefs] = None
                ) -> Optional[RenderHandle]:
    """Render `node` (default: this node). GUI: returns a RenderHandle at once. Headless: blocks; RenderError on failure.

    `block` forces either behaviour (True in a GUI session blocks the UI: for scripts run from the Script Editor).
    """
    group = node if node is not None else nuke.thisNode()
    block = (not nuke.GUI) if block is None else block
    settings = settings or prefs.load()
    client = make_client(settings)
    name = group.fullName()
    try:
        job = prepare(group, settings)
        job_id = client.submit(job)
    except (RenderError, ClientError, RuntimeError) as exc:
        # RuntimeError: Nuke's own failure to render an input (a missing frame upstream, say).
        text = "dreamplate {}: cannot submit: {}".format(name, exc)
        group["status"].setValue("error: {}".format(exc))
        if block:
            raise RenderError(text) from None
        nuke.message(text)
        return None
    output = mapping.to_client(job["output"], settings.maps)
    group["job_id"].setValue(job_id)
    group["status"].setValue("queued: job {}".format(job_id))
    log.info("dreamplate %s: submitted job %s (%s)", name, job_id, job["task"])
    if block:
        return _render_blocking(group, client, job_id, output, settings)
    handle = RenderHandle(name, job_id, output)
    handle.thread = threading.Thread(target=_worker, args=(handle, client, settings.poll_seconds),
                                     name="dreamplate-" + job_id, daemon=True)
    handle.thread.start()
    return handle


def _render_blocking(group: Any, client: Client, job_id: str, output: str, settings: prefs.Prefs) -> None:
    name = group.fullName()

    def show(job: Dict[str, Any]) -> None:
        print("dreamplate {}: job {}: {} {}".format(name, job_id, _describe(job), job.get("message") or "").rstrip())

    try:
        job = follow(client, job_id, settings.poll_seconds, show)
    except ClientError as exc:
        raise RenderError("dreamplate {}: job {}: {}".format(name, job_id, exc)) from None
    if job["state"] != "done":
        group["status"].setValue(_failure(job))
        raise RenderError("dreamplate {}: {}".format(name, _failure(job)))
    status = apply_result(group, job, output)
    group["status"].setValue(status)
    print("dreamplate {}: {}".format(name, status))
    return None


def _worker(handle: RenderHandle, client: Client, poll_seconds: float) -> None:
    """Follow the job on a worker thread; Nuke objects are touched only through executeInMainThread."""
    task = nuke.ProgressTask("dreamplate {}".format(handle.node_name))
    task.setMessage("job {} queued".format(handle.job_id))

    def changed(job: Dict[str, Any]) -> None:
        task.setProgress(int(round(100 * float(job.get("progress") or 0.0))))
        task.setMessage("job {}: {}".format(handle.job_id, _describe(job)))
        nuke.executeInMainThread(_set_status, (handle.node_name, "{}: job {}".format(_describe(job), handle.job_id)))

    try:
        job = follow(client, handle.job_id, poll_seconds, changed, task.isCancelled)
    except ClientError as exc:
        job = {"id": handle.job_id, "state": "lost", "error": str(exc)}
    except Exception as exc:  # a bug: keep its traceback in the log and tell the artist, never die silently
        log.exception("dreamplate %s: following job %s failed", handle.node_name, handle.job_id)
        job = {"id": handle.job_id, "state": "lost", "error": "internal error: {}".format(exc)}
    finally:
        del task  # closes Nuke's progress bar
    nuke.executeInMainThread(_finish, (handle, job))


def _set_status(node_name: str, text: str) -> None:
    group = nuke.toNode(node_name)
    if group is not None:
        group["status"].setValue(text)


def _finish(handle: RenderHandle, job: Dict[str, Any]) -> None:
    """Main thread: the result into the node, or the server's reason in a message."""
    try:
        group = nuke.toNode(handle.node_name)
        if group is None:
            log.warning("dreamplate: %s was deleted while job %s ran", handle.node_name, handle.job_id)
            return
        if job.get("state") == "done":
            try:
                group["status"].setValue(apply_result(group, job, handle.output))
            except RenderError as exc:
                group["status"].setValue("error: {}".format(exc))
                nuke.message("dreamplate {}: job {}: {}".format(handle.node_name, handle.job_id, exc))
        elif job.get("state") == "cancelled":
            group["status"].setValue("cancelled: job {}".format(handle.job_id))  # the artist's choice, not an error
        else:
            group["status"].setValue(_failure(job))
            nuke.message("dreamplate {}: {}".format(handle.node_name, _failure(job)))
    finally:
        handle.job = job
        handle.done.set()


def render_nodes(names: List[str], settings: Optional[prefs.Prefs] = None) -> int:
    """Headless: render the named nodes one after another; returns 0, or 1 after printing the first failure."""
    import sys

    for name in names:
        group = nuke.toNode(name)
        if group is None:
            print("dreamplate: no node named {}".format(name), file=sys.stderr)
            return 1
        try:
            render_node(group, block=True, settings=settings)
        except RenderError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    return 0
