"""Render a dreamplate node: inputs to files, the job to the server, progress and cancel, the result into the node.

GUI: `render_node` returns at once; a worker thread follows the job under a `nuke.ProgressTask` whose Cancel button
cancels the job on the server, and every node or knob change goes through `nuke.executeInMainThread` (Nuke crashes
when a worker thread edits the DAG). Headless (`nuke -t`, farms): the same call blocks, prints one progress line per
change and raises `RenderError` on failure, so a script exits non-zero.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import nuke

from dreamplate.client import TERMINAL_STATES, Client, ClientError
from dreamplate_nuke import mapping, nodes, prefs

log = logging.getLogger(__name__)

TEMP_FOLDER = ".dreamplate_in"
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


def _plain_colorspace(name: str) -> str:
    """`default (ACEScg)` -> `ACEScg`: Nuke shows a role's or default's target in brackets."""
    name = name.strip()
    if name.endswith(")") and "(" in name:
        return name[name.index("(") + 1: -1].strip()
    return name


# --- inputs: a plain EXR Read is sent as is, anything else through a temporary Write ---------------------------------


def _plain_exr_read(node: Any) -> bool:
    """A Read of EXR files whose pixels are the files' own (no raw-data toggle, no proxy): the server can read them."""
    if node is None or node.Class() != "Read":
        return False
    path = node["file"].evaluate()
    return bool(path) and path.lower().endswith(".exr")


def _input_file(group: Any, role: str, index: int, frames: Tuple[int, int], color: Dict[str, str]) -> str:
    """A file pattern (or one file, for single-frame roles) the server can read for input `index` over `frames`."""
    upstream = group.input(index)
    if upstream is None:
        raise RenderError("{}: connect the {} input".format(group.name(), role.replace("_", " ")))
    single = role != "plate"
    if _plain_exr_read(upstream):
        pattern = upstream["file"].evaluate()
        if color.get("colorspace") and role == "plate":
            # The Read says what its files are in: that, not the working space, is the plate's colour space.
            read_space = _plain_colorspace(str(upstream["colorspace"].value()))
            if read_space and read_space != "default":
                color["colorspace"] = read_space
        return mapping.frame_path(pattern, frames[0]) if single and mapping.is_sequence(pattern) else pattern
    # Anything else is rendered by Nuke: a temporary half EXR sequence of the node's input, in the working space.
    output = group["output"].evaluate()
    folder = os.path.join(os.path.dirname(output), TEMP_FOLDER)
    pattern = os.path.join(folder, "{}.####.exr".format(role))
    group.begin()
    try:
        write = group.node("dp_write_" + role)
        if write is None:
            write = nuke.nodes.Write()
            write.setName("dp_write_" + role)
        source = next(n for n in group.nodes() if n.Class() == "Input" and n["number"].value() == index)
        write.setInput(0, source)
        write["file"].setValue(pattern)
        write["file_type"].setValue("exr")
        write["datatype"].setValue("16 bit half")
        write["channels"].setValue("rgba")
        write["create_directories"].setValue(True)
        if color.get("colorspace"):
            write["colorspace"].setValue(color["colorspace"])
        nuke.execute(write, frames[0], frames[0] if single else frames[1])
    finally:
        group.end()
    if not color.get("colorspace"):
        # Nuke's own colour management works in linear with Rec.709 primaries; say so, as the file cannot.
        color["colorspace"] = "lin_rec709"
    return mapping.frame_path(pattern, frames[0]) if single else pattern


def _knob_values(group: Any) -> Dict[str, Any]:
    return {name: knob.value() for name, knob in group.knobs().items()}


def prepare(group: Any, settings: prefs.Prefs) -> Dict[str, Any]:
    """The job for `group`: knob values gathered, inputs written where needed, paths mapped for the server."""
    kind = nodes.kind_of(group)
    if not kind:
        raise RenderError("{}: not a dreamplate node".format(group.name()))
    knobs = _knob_values(group)
    if kind in nodes.RANGE_KINDS and knobs.get("use_input_range", True) and group.input(0) is not None:
        knobs["range_first"], knobs["range_last"] = group.input(0).firstFrame(), group.input(0).lastFrame()
    output = group["output"].evaluate()
    if not output or output.startswith("/dreamplate/"):
        raise RenderError("{}: output: save the script first or give an output path".format(group.name()))
    color = ocio_settings()
    inputs = {}
    for index, (role, _) in enumerate(nodes.INPUT_ROLES[kind]):
        if role in nodes.OPTIONAL_ROLES and group.input(index) is None:
            continue
        if role == "key_a":
            frames = (int(knobs["key_a_frame"]),) * 2
        elif role == "key_b":
            frames = (int(knobs["key_b_frame"]),) * 2
        elif role == "light":
            first = group.input(index).firstFrame()
            frames = (first, first)
        else:
            frames = (int(knobs["range_first"]), int(knobs["range_last"]))
        inputs[role] = _input_file(group, role, index, frames, color)
    try:
        return mapping.build_job(kind, knobs, inputs, output, color, settings.maps)
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
    kind = nodes.kind_of(group)
    if kind == "Keyframes":
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
    read["file"].setValue(pattern)
    for name, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[name].setValue(value)
    space = _set_colorspace(read, mapping.frame_path(output, first))
    reload = read.knob("reload")
    if reload is not None:
        reload.execute()
    group.node(nodes.SWITCH)["which"].setValue(1)
    return "done: job {}, frames {}-{} ({})".format(job["id"], first, last, space or "colour space untagged")


def _set_colorspace(read: Any, frame_file: str) -> str:
    """Set the Read to the colour space the server tagged the result with; returns the name used."""
    try:
        candidates = mapping.colorspace_candidates(mapping.exr_string_attributes(frame_file))
    except (OSError, mapping.SpecError) as exc:
        log.warning("dreamplate: %s: cannot read its colour tag (%s)", frame_file, exc)
        candidates = []
    if nuke.root()["colorManagement"].value() != "OCIO":
        candidates.append("linear")  # Nuke's own colour management knows only its linear
    for name in candidates:
        try:
            read["colorspace"].setValue(name)
        except ValueError:
            continue
        if read["colorspace"].value() == name:
            return name
    if candidates:
        log.warning("dreamplate: %s: Nuke's colour config has none of %s", frame_file, ", ".join(candidates))
    return ""


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
