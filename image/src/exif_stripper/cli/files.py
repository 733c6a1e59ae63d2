"""Local files for the CLI: what IN may be, how OUT is written, and signals.

IN is a regular file (refused by its size before it is read), or a stream: stdin, a FIFO,
a character device (read to the end; the tokenizer's byte limit applies as it reads).

OUT is written so that nothing unverified and nothing partial is ever left there:
- a path that does not exist or is a regular file: a hidden temporary file in the same
  folder, renamed over OUT once the output is complete and verified (rename(2) is atomic);
- a symbolic link: the same, written through to the file it points to, which keeps the
  link (a link to nothing, or into IN, is refused);
- a FIFO or a character device (`/dev/null`, a terminal): the verified output is streamed
  into it; a rejected input sends nothing (a reader waiting on a FIFO gets end-of-file);
- anything else (a directory, a socket, a block device) is refused, never replaced.
Errors name the side they happened on: IN when reading it, OUT when writing it.

SIGTERM, SIGINT and SIGHUP (unless the process started with them ignored, as under
`nohup`) stop the work: every temporary file is deleted, and the process then ends by
the same signal, as a shell expects. Only SIGKILL can leave a temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Protocol, cast

from ..core.errors import SanitizeError, TooLarge
from ..core.sanitize import Options, sanitize_stream

if TYPE_CHECKING:
    from tempfile import SpooledTemporaryFile

# Below this, output for a stream waits in memory; above, in an anonymous temporary file
# (fail closed: nothing reaches the stream until the whole output has been verified).
_SPOOL_IN_MEMORY: Final = 32 * 1024 * 1024
_COPY_CHUNK: Final = 1024 * 1024


class ReadFailed(Exception):
    """Reading IN failed (the OSError is the cause)."""

    def __init__(self, name: str, error: OSError) -> None:
        super().__init__(f"{name}: {error.strerror or error}")


class WriteFailed(Exception):
    """OUT could not be written; the message names OUT and says why."""

    def __init__(self, target: Path | str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")


# --- stopping on signals ----------------------------------------------------------------------


class Interrupted(BaseException):
    """A termination signal arrived: unwind like KeyboardInterrupt, then end by the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


_STOP: Final = threading.Event()  # set by the first signal; worker threads check it per read
# How long a wait may delay a signal that arrived just before it began (see Source).
SIGNAL_LATENCY: Final = 0.1


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """While inside, SIGTERM, SIGINT and SIGHUP raise `Interrupted` in the main thread."""
    import signal

    def handler(signum: int, _frame: object) -> None:
        if _STOP.is_set():
            return  # a second signal must not interrupt the clean-up of the first
        _STOP.set()
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals (e.g. main() called from a thread)
        return
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored on purpose (nohup, &)
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def end_by_signal(signum: int) -> int:
    """Delete every temporary file, then end the way `signum` ends a process by default.

    A shell then reports the signal, and a script's loop stops on Ctrl-C (a process that
    caught SIGINT and exited 130 would not stop it). Returns 128 + signum if still alive.
    """
    import signal

    _TEMPORARIES.abandon()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum


class _Temporaries:
    """Temporary files that exist now, so a signal can delete them wherever the work is.

    The main thread may be interrupted anywhere (between creating a file and entering the
    `try` that deletes it), and worker threads are not interrupted at all: after
    `abandon()` none exists, none is created, and none is renamed into place.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[Path] = set()
        self._abandoned = False

    def create(self, path: Path) -> int:
        with self._lock:
            self._refuse_if_abandoned()
            self._paths.add(path)  # first: a signal after open() must find it
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def commit(self, path: Path, target: Path) -> None:
        with self._lock:
            self._refuse_if_abandoned()
            path.replace(target)
            self._paths.discard(path)

    def discard(self, path: Path) -> None:
        with self._lock:
            path.unlink(missing_ok=True)
            self._paths.discard(path)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            for path in self._paths:
                path.unlink(missing_ok=True)
            self._paths.clear()

    def _refuse_if_abandoned(self) -> None:
        if self._abandoned:
            raise Interrupted(0)


_TEMPORARIES: Final = _Temporaries()


# --- IN -------------------------------------------------------------------------------------------


def open_input(source: Path | None) -> BinaryIO:
    """IN opened for reading; None is stdin (a duplicate: closing it leaves stdin open)."""
    if source is None:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    return source.open("rb")


def refuse_oversized(handle: BinaryIO, max_bytes: int) -> None:
    """Refuse a regular file by its size, before reading a byte of it.

    Streams have no size to ask: for them the tokenizer counts bytes as they arrive.
    """
    info = os.fstat(handle.fileno())
    if stat.S_ISREG(info.st_mode):
        size = info.st_size - handle.tell()  # stdin may start part-way into a file
        if size > max_bytes:
            raise TooLarge(f"file is {size} bytes, over the limit of {max_bytes} bytes", max_bytes)


@contextlib.contextmanager
def seekable(handle: BinaryIO, max_bytes: int) -> Iterator[BinaryIO]:
    """`handle` itself if it can seek (`inspect` reads twice); else a copy of at most
    `max_bytes` + 1 of its bytes: one more than the limit, so the tokenizer still sees
    that the stream is too long, and memory stays bounded whatever a pipe brings."""
    if handle.seekable():
        yield handle
        return
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        left = max_bytes + 1
        while left > 0 and (chunk := handle.read(min(_COPY_CHUNK, left))):
            spool.write(chunk)
            left -= len(chunk)
        spool.seek(0)
        yield cast(BinaryIO, spool)


def unusable_input(source: Path) -> str | None:
    """Why `source` cannot be IN ("no such file", "a socket", ...), or None if it can."""
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        return "no such file or directory"
    except OSError:
        return None  # e.g. permission denied: opening it reports that, as an I/O error
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return None
    return f"{_kind(mode)}, not a file to read"


class Source:
    """IN as the sanitizer reads it: stops at the next read once a signal arrived, and
    tells a failed read (named after IN) from a failed write.

    A damaged JPEG is read a second time to be re-encoded (`reread`): a file from where it
    started; a stream from a copy kept as it is read (in memory, then on disk), then what
    it has not sent yet, up to `max_bytes`.
    """

    def __init__(self, handle: BinaryIO, name: str, max_bytes: int) -> None:
        self._handle = handle
        self._name = name
        self._max_bytes = max_bytes
        self._stream = not stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
        self._start = 0 if self._stream else handle.tell()
        self._copy: SpooledTemporaryFile[bytes] | None = None

    def read(self, size: int, /) -> bytes:
        if _STOP.is_set():
            raise Interrupted(0)
        try:
            if not self._stream:
                return self._handle.read(size)
            data = self._read_stream(size)
        except OSError as error:
            raise ReadFailed(self._name, error) from error
        self._keep(data)
        return data

    def reread(self) -> bytes:
        """All of IN again, from its first byte."""
        if not self._stream:
            self._handle.seek(self._start)
            return self._handle.read(self._max_bytes + 1)
        while self.read(_COPY_CHUNK):  # what the first pass did not read
            if self._copy is not None and self._copy.tell() > self._max_bytes:
                raise TooLarge(f"file exceeds the limit of {self._max_bytes} bytes", 0)
        if self._copy is None:
            return b""
        self._copy.seek(0)
        return self._copy.read()

    def close(self) -> None:
        if self._copy is not None:
            self._copy.close()

    def _keep(self, data: bytes) -> None:
        if self._copy is None:
            import tempfile

            self._copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by close()
        self._copy.write(data)

    def _read_stream(self, size: int) -> bytes:
        """One read(2), once there is something to read (a pipe may stall for ever).

        Waiting happens in short polls, not in read(2): a signal that arrives just before
        a blocking read(2) does not interrupt it, so its handler would wait for the next
        byte; between two polls Python runs it. (A buffered read is worse: it reads what
        is there, then blocks in a second read(2) with the signal already pending.)
        """
        import select

        fd = self._handle.fileno()
        while not select.select([fd], [], [], SIGNAL_LATENCY)[0]:
            pass
        return os.read(fd, size)


# --- OUT ------------------------------------------------------------------------------------------


def write_output(src: Source, target: Path | None, options: Options, protect: Path | None) -> None:
    """Sanitize `src` into OUT (None is stdout), as the module's docstring says.

    `protect` is IN, resolved (a file or a directory): OUT never writes through a link
    into it. Raises `WriteFailed` naming OUT for every failure on OUT's side.
    """
    if target is None:
        _to_stdout(src, options)
        return
    path, mode = _resolve_output(target, protect)
    try:
        if mode is None or stat.S_ISREG(mode):
            _make_folder(target, path)
            _write_atomically(src, path, options)
        else:
            # No O_CREAT: if the FIFO vanished meanwhile, no regular file takes its place.
            _stream(src, options, lambda: os.fdopen(os.open(path, os.O_WRONLY), "wb"))
    except OSError as error:
        raise WriteFailed(target, error.strerror or str(error)) from error
    except SanitizeError:
        if mode is not None and stat.S_ISFIFO(mode):
            _release_reader(path)
        raise


def _to_stdout(src: Source, options: Options) -> None:
    try:
        _stream(src, options, lambda: contextlib.nullcontext(sys.stdout.buffer))
    except BrokenPipeError as error:
        # The reader left (`| head`). Point stdout at /dev/null so that Python's own flush
        # at exit does not fail a second time (Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise WriteFailed("<stdout>", error.strerror or str(error)) from error
    except OSError as error:
        raise WriteFailed("<stdout>", error.strerror or str(error)) from error


def _resolve_output(target: Path, protect: Path | None) -> tuple[Path, int | None]:
    """The path to write (a link followed) and its mode: None for a file yet to create.

    Refuses what must not be written: a link to nothing or into IN, a directory, a socket,
    a block device.
    """
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return target, None  # a new file; _make_folder names a parent that is a file
    except OSError as error:
        raise WriteFailed(target, error.strerror or str(error)) from error
    path = target
    if stat.S_ISLNK(mode):
        try:
            path = target.resolve(strict=True)
        except FileNotFoundError:
            raise WriteFailed(target, "a symbolic link to nothing: not written through") from None
        except RuntimeError:
            raise WriteFailed(target, "a loop of symbolic links") from None
        mode = path.stat().st_mode
        if protect is not None and (path == protect or protect in path.parents):
            raise WriteFailed(target, "a symbolic link into IN: the input is never modified")
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return path, mode
    raise WriteFailed(target, f"{_kind(mode)}: not replaced")


def _make_folder(target: Path, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in path.parents if p.exists())
        if blocker.is_dir():
            raise
        raise WriteFailed(
            target, f"cannot create its folder: {blocker} is not a directory"
        ) from None


def _write_atomically(src: Source, target: Path, options: Options) -> None:
    """Write through a temporary file in the target's folder; rename once verified."""
    # Hidden, unique, created exclusively and private until it is complete (like mkstemp).
    temporary = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
    try:
        handle = _TEMPORARIES.create(temporary)
        with os.fdopen(handle, "wb") as dst:
            sanitize_stream(src, dst, options, fallback=_Again(src, dst))
        temporary.chmod(0o666 & ~_UMASK)
        _TEMPORARIES.commit(temporary, target)
    except BaseException:
        _TEMPORARIES.discard(temporary)
        raise


def _stream(
    src: Source,
    options: Options,
    open_sink: Callable[[], contextlib.AbstractContextManager[BinaryIO]],
) -> None:
    """Sanitize into a spool, then copy the verified output into the sink in one go."""
    import shutil
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        sanitize_stream(src, spool, options, fallback=_Again(src, spool))
        spool.seek(0)
        with open_sink() as sink:
            shutil.copyfileobj(spool, sink, _COPY_CHUNK)
            sink.flush()


class _Rewindable(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...
    def seek(self, offset: int, /) -> int: ...
    def truncate(self) -> int: ...


class _Again:
    """The sanitizer's `Fallback` here: IN read again, the output started again."""

    def __init__(self, src: Source, dst: _Rewindable) -> None:
        self._src = src
        self._dst = dst

    def reread(self) -> bytes:
        return self._src.reread()

    def restart(self) -> _Rewindable:
        self._dst.seek(0)
        self._dst.truncate()
        return self._dst


def _release_reader(fifo: Path) -> None:
    """Open and close a FIFO without blocking: a reader waiting on it gets end-of-file,
    as a reader of stdout does for a rejected input. No reader: nothing to do."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, before any thread exists: os.umask() can only be read by setting it.
_UMASK: Final = _read_umask()
