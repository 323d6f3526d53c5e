"""The desktop dialogs, drawn with Tk (tkinter ships with Python; no other GUI toolkit).

The logic lives in :mod:`tanba.agent.consent.dialogs` (display-free, tested on its own);
this module only draws a model and forwards clicks and keys to it.

Threads: Tk runs in one thread of its own, with its own interpreter and mainloop, started
on the first dialog.  The agent's asyncio loop never touches a widget: it posts callables
to a queue the Tk thread drains every few milliseconds, and the Tk thread reports the end
of a dialog back through a future (``call_soon_threadsafe``).  Cancelling the coroutine
that awaits a dialog (its WebSocket closed) closes the window.

Windows are always on top and grab the keyboard focus; Enter presses the default button
(once the dialog is armed, see :data:`~tanba.agent.consent.dialogs.ARM_DELAY`), Escape
cancels.

PIN limit: a Tk entry keeps its text as a Tcl/Python string that cannot be overwritten.
The PIN is copied into a bytearray on OK, the entry is cleared at once and our own ``str``
reference dropped; the interpreter's copy lives until it is garbage-collected.  The entry
never reaches a log.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import queue
import socket
import sys
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont, ttk
from typing import Any

from tanba.agent.consent.dialogs import (
    ARM_DELAY,
    DEFAULT_TIMEOUT,
    CertificateDialog,
    ConfirmDialog,
    Dialog,
    KeyDialog,
    OriginDialog,
    PinDialog,
)
from tanba.agent.consent.runner import DialogConsent

log = logging.getLogger(__name__)

POLL_MS = 25
RED = "#b00020"
GREY = "#777777"
WRAP = 520
#: the confirmation's documents box: columns, and rows before it scrolls (one document's
#: whole preview, with its header and its "not shown" line, fits without scrolling)
BOX_COLUMNS = 84
BOX_ROWS = 18


def display_available(environ: dict[str, str] | None = None) -> bool:
    """Can Tk open windows here?  Cheap: no window is created.

    Windows and macOS have a desktop whenever tkinter imports; elsewhere ``DISPLAY`` must
    name an X server that accepts connections (XWayland included).
    """
    env = os.environ if environ is None else environ
    try:
        import _tkinter  # noqa: F401
    except ImportError:
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    display = env.get("DISPLAY", "")
    return bool(display) and _x_server_reachable(display)


def _x_server_reachable(display: str) -> bool:
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return False
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                try:
                    sock.connect(f"/tmp/.X11-unix/X{number}")
                    return True
                except OSError:
                    if host == "unix":
                        return False
            host = "localhost"
        with socket.create_connection((host, 6000 + int(number)), timeout=1.0):
            return True
    except OSError:
        return False


class TkThread:
    """The Tk interpreter and its mainloop, in a daemon thread."""

    def __init__(self, screen: str | None = None) -> None:
        self.screen = screen
        self.root: tk.Tk | None = None
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name="tanba-tk", daemon=True)
        #: open windows; Tk objects are created, used and freed in the Tk thread only
        #: (freeing the interpreter from another thread aborts the process)
        self.windows: set[Window] = set()
        self.fonts: dict[str, tkfont.Font] = {}

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise RuntimeError(f"cannot open the display: {self._error}") from self._error
        if self.root is None:
            raise RuntimeError("the Tk thread did not start")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    def _main(self) -> None:
        try:
            root = tk.Tk(screenName=self.screen, className="Tanba")
        except tk.TclError as exc:
            self._error = exc
            self._ready.set()
            return
        root.withdraw()
        self.fonts = _make_fonts(root)
        self.root = root
        self._ready.set()
        root.after(POLL_MS, self._poll)
        try:
            root.mainloop()
        finally:
            for window in list(self.windows):
                window.close()
            self.fonts.clear()
            self.root = None
            try:
                root.destroy()
            except tk.TclError:
                pass
            del root
            gc.collect()  # widget cycles die here, in the interpreter's own thread

    def _poll(self) -> None:
        assert self.root is not None
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                job()
            except Exception:
                log.exception("a Tk dialog job failed")
        if self._stopping:
            self.root.quit()
        else:
            self.root.after(POLL_MS, self._poll)

    def call(self, job: Callable[[], None]) -> None:
        """Run ``job`` in the Tk thread (soon)."""
        self._queue.put(job)

    def stop(self) -> None:
        self._stopping = True
        if self._thread.is_alive():
            self._thread.join(5)


def _make_fonts(root: tk.Tk) -> dict[str, tkfont.Font]:
    base = tkfont.nametofont("TkDefaultFont", root=root)
    base.configure(size=10)
    heading = base.copy()
    heading.configure(weight="bold", size=12)
    strong = base.copy()
    strong.configure(weight="bold")
    mono = tkfont.nametofont("TkFixedFont", root=root).copy()
    mono.configure(size=9)
    return {"heading": heading, "strong": strong, "mono": mono}


class Window:
    """One dialog on screen; lives in the Tk thread only."""

    def __init__(self, root: tk.Tk, thread: TkThread, dialog: Dialog[Any], on_done: Callable[[], None]) -> None:
        self.dialog = dialog
        self.thread = thread
        self.on_done = on_done
        self.closed = False
        self.buttons: dict[str, tk.Button] = {}
        top = self.top = tk.Toplevel(root)
        top.withdraw()
        top.title(dialog.title)
        top.resizable(False, False)
        top.attributes("-topmost", True)
        top.protocol("WM_DELETE_WINDOW", dialog.cancel)
        top.bind("<Return>", lambda e: self._key("Return"))
        top.bind("<KP_Enter>", lambda e: self._key("Return"))
        top.bind("<Escape>", lambda e: self._key("Escape"))
        self.bold = thread.fonts["heading"]
        self.strong = thread.fonts["strong"]
        self.mono = thread.fonts["mono"]
        self.body = tk.Frame(top, padx=18, pady=14)
        self.body.pack(fill="both", expand=True)
        self.refreshers: list[Callable[[], None]] = []
        DRAW[type(dialog)](self)
        self._draw_footer()
        self._listener = lambda: thread.call(self.refresh)
        dialog.subscribe(self._listener)
        thread.windows.add(self)
        self._show()

    # -- helpers -----------------------------------------------------------------------
    def label(self, parent: tk.Misc, text: str, **kw: Any) -> tk.Label:
        pady = kw.pop("pady", 2)
        widget = tk.Label(parent, text=text, justify="left", anchor="w", wraplength=kw.pop("wrap", WRAP), **kw)
        widget.pack(fill="x", anchor="w", pady=pady)
        return widget

    def _draw_footer(self) -> None:
        row = tk.Frame(self.body, pady=8)
        row.pack(fill="x", side="bottom")
        self.countdown = tk.Label(row, text="", fg=GREY, anchor="w")
        self.countdown.pack(side="left")
        for button in reversed(self.dialog.buttons()):
            widget = tk.Button(row, text=button.label, command=self._presser(button.id), padx=10)
            if button.default:
                widget.configure(font=self.strong)
            widget.pack(side="right", padx=(6, 0))
            self.buttons[button.id] = widget
        tk.Label(self.body, text=self.dialog.keys_hint, fg=GREY, anchor="w").pack(side="bottom", fill="x")

    def _show(self) -> None:
        top = self.top
        top.update_idletasks()
        width, height = top.winfo_reqwidth(), top.winfo_reqheight()
        x = max(0, (top.winfo_screenwidth() - width) // 2)
        y = max(0, (top.winfo_screenheight() - height) // 3)
        top.geometry(f"+{x}+{y}")
        top.deiconify()
        top.lift()
        top.focus_force()
        self.dialog.shown()
        self.refresh()
        top.after(int(ARM_DELAY * 1000) + 30, self.refresh)
        top.after(150, self._refocus)
        self._tick()

    def _refocus(self) -> None:
        if not self.closed:
            self.top.lift()
            focus = getattr(self, "entry", None)
            (focus or self.top).focus_force()

    def _tick(self) -> None:
        if self.closed:
            return
        self.countdown.configure(text=self.dialog.countdown or "")
        self.top.after(1000, self._tick)

    def refresh(self) -> None:
        if self.closed:
            return
        if self.dialog.done:
            self.on_done()
            return
        for button in self.dialog.buttons():
            widget = self.buttons.get(button.id)
            if widget is not None:
                widget.configure(state="normal" if button.enabled else "disabled",
                                 fg=RED if button.danger and button.enabled else "black")
        for refresher in self.refreshers:
            refresher()

    def _presser(self, button_id: str) -> Callable[[], None]:
        return lambda: self._press(button_id)

    def _press(self, button_id: str) -> None:
        if isinstance(self.dialog, PinDialog) and button_id == "ok":
            self._submit_pin()
        else:
            self.dialog.press(button_id)
        self.refresh()

    def _key(self, name: str) -> None:
        if name == "Return" and isinstance(self.dialog, PinDialog) and self.dialog.needs_entry:
            self._submit_pin()
        else:
            self.dialog.key(name)
        self.refresh()

    # -- PIN -----------------------------------------------------------------------------
    def _submit_pin(self) -> None:
        dialog = self.dialog
        assert isinstance(dialog, PinDialog)
        entry: tk.Entry | None = getattr(self, "entry", None)
        if entry is None:
            dialog.submit(bytearray())
            return
        typed = entry.get()
        pin = bytearray(typed.encode("utf-8"))
        del typed
        if dialog.submit(pin):
            entry.delete(0, "end")  # the PIN now lives only in the bytearray
        # refused (not armed, final try not acknowledged): keep the field for another go

    def close(self) -> None:
        """Destroy the window and drop every link between the model and Tk objects."""
        if self.closed:
            return
        self.closed = True
        self.dialog.unsubscribe(self._listener)
        self.thread.windows.discard(self)
        self.refreshers.clear()
        self.buttons.clear()
        try:
            self.top.destroy()
        except tk.TclError:
            pass
        # Drop every widget, variable and closure now, in this thread, and break the
        # window's reference cycles; only the flag survives.
        self.__dict__.clear()
        self.closed = True


# -- the drawings, one per model -------------------------------------------------------


def draw_origin(w: Window) -> None:
    d = w.dialog
    assert isinstance(d, OriginDialog)
    w.label(w.body, d.heading, font=w.bold)
    w.label(w.body, d.explanation, pady=(6, 8))


def draw_certificates(w: Window) -> None:
    d = w.dialog
    assert isinstance(d, CertificateDialog)
    w.label(w.body, d.heading, font=w.bold)
    columns = ("owner", "ids", "issuer", "purpose", "validity")
    tree = ttk.Treeview(w.body, columns=columns, show="headings", height=min(8, max(3, len(d.rows))),
                        selectmode="browse")
    widths = (250, 280, 170, 120, 280)
    for column, heading, width in zip(columns, d.columns(), widths, strict=True):
        tree.heading(column, text=heading, anchor="w")
        tree.column(column, width=width, anchor="w", stretch=False)
    tree.tag_configure("unusable", foreground=GREY)
    tree.tag_configure("expired", foreground=RED)
    for index, row in enumerate(d.rows):
        validity = row.validity + (f"  ({row.status})" if row.status else "")
        tags = ("expired",) if row.expired else ("unusable",) if not row.selectable else ()
        tree.insert("", "end", iid=str(index), values=(row.owner, row.ids, row.issuer, row.purpose, validity), tags=tags)
    tree.pack(fill="x", pady=6)
    notice = tk.Label(w.body, text="", fg=RED, anchor="w")
    notice.pack(fill="x")
    details = tk.Text(w.body, height=10, width=90, font=w.mono, relief="groove", wrap="word")

    def sync() -> None:
        if d.selected is not None and tree.selection() != (str(d.selected),):
            tree.selection_set(str(d.selected))
            tree.focus(str(d.selected))
        notice.configure(text=d.notice or "")
        if d.details_open is None:
            details.pack_forget()
        else:
            details.configure(state="normal")
            details.delete("1.0", "end")
            details.insert("end", "\n".join(f"{k}: {v}" for k, v in d.details(d.details_open)))
            details.configure(state="disabled")
            details.pack(fill="x", pady=4)

    def on_select(_: object) -> None:
        picked = tree.selection()
        if picked and not d.select(int(picked[0])):
            sync()  # an unusable row: back to the selected one

    tree.bind("<<TreeviewSelect>>", on_select)
    tree.bind("<Double-Button-1>", lambda e: w._press("choose"))
    w.refreshers.append(sync)
    sync()
    tree.focus_set()


def draw_keys(w: Window) -> None:
    d = w.dialog
    assert isinstance(d, KeyDialog)
    if d.notice:
        w.label(w.body, d.notice, fg=RED, font=w.strong)
    w.label(w.body, d.heading, font=w.bold)
    box = tk.Listbox(w.body, height=min(8, max(3, len(d.rows))), width=90, selectmode="browse",
                     exportselection=False)
    for row in d.rows:
        box.insert("end", row.text + (f"  — {row.note}" if row.note else ""))
    box.pack(fill="x", pady=6)
    for identity in d.choice.identities if d.choice.several else ():
        w.label(w.body, f"• {identity.location}", fg=GREY)

    def sync() -> None:
        if d.selected is not None and box.curselection() != (d.selected,):  # type: ignore[no-untyped-call]
            box.selection_clear(0, "end")
            box.selection_set(d.selected)
            box.activate(d.selected)

    def on_select(_: object) -> None:
        picked = box.curselection()  # type: ignore[no-untyped-call]
        if picked:
            d.select(int(picked[0]))

    box.bind("<<ListboxSelect>>", on_select)
    box.bind("<Double-Button-1>", lambda e: w._press("choose"))
    w.refreshers.append(sync)
    sync()
    w.entry = box  # type: ignore[attr-defined]  # what _refocus gives the keyboard: arrows move in the list
    box.focus_set()


def draw_pin(w: Window) -> None:
    d = w.dialog
    assert isinstance(d, PinDialog)
    w.label(w.body, d.heading, font=w.bold)
    w.label(w.body, d.subheading, fg=GREY)
    if d.retries_text:
        w.label(w.body, d.retries_text, font=w.strong)
    if d.warning:
        box = tk.Frame(w.body, bg=RED, padx=10, pady=8)
        box.pack(fill="x", pady=6)
        tk.Label(box, text=d.warning, bg=RED, fg="white", font=w.strong, justify="left",
                 wraplength=WRAP - 20, anchor="w").pack(fill="x")
    if d.needs_acknowledgement:
        var = tk.BooleanVar(master=w.top, value=False)
        check = tk.Checkbutton(w.body, text=d.acknowledgement_text, variable=var, fg=RED, anchor="w",
                               command=lambda: d.acknowledge(var.get()))
        check.pack(fill="x", pady=2)
    if d.pinpad_text:
        w.label(w.body, d.pinpad_text)
    if d.needs_entry:
        row = tk.Frame(w.body, pady=6)
        row.pack(fill="x")
        tk.Label(row, text=d.field_label).pack(side="left")
        entry = tk.Entry(row, show="•", width=28)
        entry.pack(side="left", padx=8)
        # only the length is reported; the model never sees the characters until OK
        entry.bind("<KeyRelease>", lambda e: d.typed(int(entry.index("end"))))
        w.entry = entry  # type: ignore[attr-defined]
        entry.focus_set()


def draw_confirm(w: Window) -> None:
    d = w.dialog
    assert isinstance(d, ConfirmDialog)
    w.label(w.body, d.heading, font=w.bold)
    w.label(w.body, d.certificate_label, font=w.strong, pady=(6, 0))
    for line in d.certificates()[:10]:
        w.label(w.body, "  " + line)
    if d.summary:
        w.label(w.body, d.summary, font=w.strong, pady=(8, 0))
        # the lines the terminal shows too: previews drawn safely, cuts said (dialogs.py)
        lines = d.document_lines()
        rows = sum(1 + max(0, len(line) - 1) // BOX_COLUMNS for line in lines)
        frame = tk.Frame(w.body)
        frame.pack(fill="x", pady=4)
        box = tk.Text(frame, height=min(BOX_ROWS, rows + 1), width=BOX_COLUMNS, font=w.mono, relief="groove",
                      wrap="char")
        bar = ttk.Scrollbar(frame, orient="vertical", command=box.yview)
        box.configure(yscrollcommand=bar.set)
        box.insert("end", "\n".join(lines))
        box.configure(state="disabled")
        bar.pack(side="right", fill="y")
        box.pack(side="left", fill="x", expand=True)


DRAW: dict[type, Callable[[Window], None]] = {
    OriginDialog: draw_origin,
    CertificateDialog: draw_certificates,
    KeyDialog: draw_keys,
    PinDialog: draw_pin,
    ConfirmDialog: draw_confirm,
}


class TkView:
    """Shows dialogs in the Tk thread; see the module docstring for the threading."""

    def __init__(self, screen: str | None = None) -> None:
        self.screen = screen
        self._thread: TkThread | None = None

    def _tk(self) -> TkThread:
        if self._thread is None or not self._thread.alive:
            thread = TkThread(self.screen)
            thread.start()
            self._thread = thread
        return self._thread

    async def show(self, dialog: Dialog[Any]) -> None:
        thread = await asyncio.to_thread(self._tk)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def finished() -> None:
            loop.call_soon_threadsafe(resolve)

        windows: list[Window] = []

        def open_window() -> None:
            assert thread.root is not None
            windows.append(Window(thread.root, thread, dialog, finished))

        def close_window() -> None:
            for window in windows:
                window.close()
            windows.clear()

        thread.call(open_window)
        try:
            await done
        finally:
            thread.call(close_window)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None


class TkConsent(DialogConsent):
    """The ``tk`` approver: desktop dialogs for every consent question."""

    name = "tk"

    def __init__(
        self,
        screen: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.tk_view = TkView(screen)
        super().__init__(self.tk_view, timeout=timeout)

    def close(self) -> None:
        """Stop the Tk thread (the agent calls it at shutdown)."""
        self.tk_view.close()
