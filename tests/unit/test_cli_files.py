"""`exif-stripper strip` and `inspect` against what a file system holds besides plain files.

Signals, special files, links, folders that are files, unreadable files, full disks and
huge sparse files: run as users run them (a subprocess) where processes are involved.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exif_stripper.cli import main
from exif_stripper.core.sanitize import sanitize_bytes
from tools.samples.corpora import write_large_jpeg
from tools.samples.jpeg import base_jpeg
from tools.samples.ready_made import kitchen_sink

PHOTO = kitchen_sink(width=160, height=120)
STRIPPED = sanitize_bytes(PHOTO).jpeg
NOT_AN_IMAGE = b"GIF89a" + bytes(64)
CLI = [sys.executable, "-m", "exif_stripper.cli"]
MIB = 1024 * 1024


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def _wait_for(condition: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _default_signals() -> None:
    """The child starts with default dispositions even if this test run ignores SIGINT
    (a background job does): the test is about what the CLI itself installs."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _unprivileged() -> list[str]:
    """A command prefix that makes file permissions apply, even to root (CAP_DAC_*)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _character_device(tmp_path: Path, name: str, minor: int) -> Path:
    """/dev/null (minor 3) or /dev/full (minor 7) to write into. As root the test makes
    its own node in tmp_path: a broken strip run as root must not replace the machine's
    /dev/null (as a regular user it cannot)."""
    if os.geteuid() != 0:
        return Path("/dev", name)
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        node.open("wb").close()  # a file system mounted nodev refuses to open it
    except OSError:
        pytest.skip("no device node can be made here, and /dev itself is not risked")
    return node


# --- messages ---------------------------------------------------------------------------------

_LINE = re.compile(
    r"exif-stripper: \S+/bad-\d+\.jpg: unsupported-format: the content is GIF, not JPEG, "
    r"PNG or WebP \(at byte 0\)"
    r"|exif-stripper: 10 written, 300 rejected, 0 failed, 0 skipped .*"
)


def test_directory_mode_writes_one_whole_line_per_message(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(300):
        (photos / f"bad-{i}.jpg").write_bytes(NOT_AN_IMAGE)
    for i in range(10):
        (photos / f"good-{i}.jpg").write_bytes(PHOTO)
    done = subprocess.run(
        [*CLI, "strip", str(photos), str(tmp_path / "web")], capture_output=True, check=False
    )
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 3
    assert [line for line in lines if not _LINE.fullmatch(line)] == []
    assert len(lines) == 301


def test_a_file_name_cannot_split_or_forge_a_message(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a\nexif-stripper: 9 written.jpg").write_bytes(NOT_AN_IMAGE)
    (photos / "b\x1b[2J.jpg").write_bytes(NOT_AN_IMAGE)
    done = subprocess.run(
        [*CLI, "strip", str(photos), str(tmp_path / "web")], capture_output=True, check=False
    )
    *rejected, summary = done.stderr.decode().splitlines()
    reason = "unsupported-format: the content is GIF, not JPEG, PNG or WebP (at byte 0)"
    assert sorted(line.removeprefix(f"exif-stripper: {photos}/") for line in rejected) == [
        f"a\\nexif-stripper: 9 written.jpg: {reason}",
        f"b\\x1b[2J.jpg: {reason}",
    ]
    assert summary.startswith("exif-stripper: 0 written, 2 rejected")


# --- signals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_a_strip_leaves_no_temporary_file(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # The photo arrives through a pipe that stays open: the strip is caught mid-file.
    process = subprocess.Popen(
        [*CLI, "strip", "-", str(out / "photo.jpg")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals,
    )
    assert process.stdin is not None
    process.stdin.write(PHOTO[: len(PHOTO) // 2])
    process.stdin.flush()
    _wait_for(lambda: _temporaries(out))
    process.send_signal(signum)
    process.wait(timeout=30)
    process.stdin.close()
    assert process.returncode == -signum  # ends by the signal, as a shell expects
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def large_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 48 MiB photos (hard links of one): a directory strip that takes a while."""
    folder = tmp_path_factory.mktemp("large") / "photos"
    folder.mkdir()
    write_large_jpeg(folder / "0.jpg", 48 * MIB, width=2048)
    for i in range(1, 6):
        (folder / f"{i}.jpg").hardlink_to(folder / "0.jpg")
    return folder


def test_sigterm_in_directory_mode_leaves_no_temporary_file(
    large_photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "web"
    process = subprocess.Popen(
        [*CLI, "strip", str(large_photos), str(out)],
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals,
    )
    _wait_for(lambda: out.exists() and _temporaries(out))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGTERM
    assert _temporaries(out) == []
    assert len(list(out.iterdir())) < 6  # it was stopped, not finished


def test_a_hangup_ignored_at_start_is_left_ignored(tmp_path: Path) -> None:
    """`nohup exif-stripper strip ...` must survive the terminal closing."""

    def ignore_hangups() -> None:
        _default_signals()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    target = tmp_path / "photo.jpg"
    process = subprocess.Popen(
        [*CLI, "strip", "-", str(target)],
        stdin=subprocess.PIPE,
        preexec_fn=ignore_hangups,
    )
    assert process.stdin is not None
    process.stdin.write(PHOTO[:1000])
    process.stdin.flush()
    _wait_for(lambda: _temporaries(tmp_path))
    process.send_signal(signal.SIGHUP)
    process.stdin.write(PHOTO[1000:])
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert target.read_bytes() == STRIPPED


# --- OUT that is not a plain file ----------------------------------------------------------------


def test_out_as_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    source, real, link = tmp_path / "in.jpg", tmp_path / "photos" / "real.jpg", tmp_path / "l.jpg"
    source.write_bytes(PHOTO)
    real.parent.mkdir()
    real.write_bytes(b"older copy")
    link.symlink_to(real)
    assert main(["strip", str(source), str(link)]) == 0
    assert link.is_symlink()
    assert real.read_bytes() == STRIPPED
    assert _temporaries(tmp_path) == []


def test_out_as_a_link_to_nothing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, link = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(PHOTO)
    link.symlink_to(tmp_path / "elsewhere" / "x.jpg")
    assert main(["strip", str(source), str(link)]) == 1
    assert link.is_symlink()
    assert not (tmp_path / "elsewhere").exists()
    assert f"{link}: a symbolic link to nothing" in capsys.readouterr().err


def test_a_link_in_out_never_writes_into_in(tmp_path: Path) -> None:
    photos, web = tmp_path / "photos", tmp_path / "web"
    photos.mkdir()
    web.mkdir()
    (photos / "a.jpg").write_bytes(PHOTO)
    (photos / "b.jpg").write_bytes(PHOTO)
    (web / "a.jpg").symlink_to(photos / "b.jpg")
    assert main(["strip", str(photos), str(web)]) == 1
    assert (photos / "b.jpg").read_bytes() == PHOTO
    assert (web / "b.jpg").read_bytes() == STRIPPED


def _read_in_background(path: Path) -> Callable[[], bytes]:
    """Read a FIFO to its end in a thread, as a consumer process would; returns a getter."""
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(path.read_bytes()))
    reader.start()

    def result() -> bytes:
        reader.join(timeout=30)
        assert got, "the reader is still waiting"
        return got[0]

    return result


def test_out_as_a_fifo_receives_the_verified_output(tmp_path: Path) -> None:
    source, fifo = tmp_path / "in.jpg", tmp_path / "out.fifo"
    source.write_bytes(PHOTO)
    os.mkfifo(fifo)
    received = _read_in_background(fifo)
    assert main(["strip", str(source), str(fifo)]) == 0
    assert received() == STRIPPED
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert _temporaries(tmp_path) == []


def test_a_rejected_input_sends_end_of_file_into_a_fifo(tmp_path: Path) -> None:
    source, fifo = tmp_path / "bad.jpg", tmp_path / "out.fifo"
    source.write_bytes(NOT_AN_IMAGE)
    os.mkfifo(fifo)
    received = _read_in_background(fifo)
    time.sleep(0.05)  # let the reader open its end first
    assert main(["strip", str(source), str(fifo)]) == 3
    assert received() == b""
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_out_as_a_character_device_is_written_into(tmp_path: Path) -> None:
    source, null = tmp_path / "in.jpg", _character_device(tmp_path, "null", 3)
    source.write_bytes(PHOTO)
    assert main(["strip", str(source), str(null)]) == 0
    assert stat.S_ISCHR(null.stat().st_mode)
    assert _temporaries(tmp_path) == []


def test_out_as_a_socket_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "s.jpg"
    source.write_bytes(PHOTO)
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(target))
        assert main(["strip", str(source), str(target)]) == 1
    assert stat.S_ISSOCK(target.lstat().st_mode)
    assert f"{target}: a socket: not replaced" in capsys.readouterr().err


def test_out_as_a_hard_link_of_in_is_refused(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(PHOTO)
    target.hardlink_to(source)
    with pytest.raises(SystemExit) as exit_:
        main(["strip", str(source), str(target)])
    assert exit_.value.code == 2
    assert source.read_bytes() == PHOTO


def test_out_ending_in_a_slash_is_a_folder_to_create(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(PHOTO)
    assert main(["strip", str(source), f"{tmp_path / 'web'}/"]) == 0
    assert (tmp_path / "web" / "in.jpg").read_bytes() == STRIPPED


@pytest.mark.parametrize("below", ["x.jpg", "deeper/x.jpg"])
def test_a_file_where_outs_folder_should_be_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], below: str
) -> None:
    source, blocker = tmp_path / "in.jpg", tmp_path / "web"
    source.write_bytes(PHOTO)
    blocker.write_text("a file, not a folder")
    target = blocker / below
    assert main(["strip", str(source), str(target)]) == 1
    reason = f"cannot create its folder: {blocker} is not a directory"
    assert capsys.readouterr().err == f"exif-stripper: {target}: {reason}\n"
    assert blocker.read_text() == "a file, not a folder"


def test_strip_of_a_directory_to_stdout_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(PHOTO)
    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["strip", str(photos), "-"])
    assert exit_.value.code == 2
    assert "IN is a directory, so OUT must be one too" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("existing", [True, False])
def test_out_inside_in_is_a_usage_error(tmp_path: Path, existing: bool) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(PHOTO)
    if existing:
        (photos / "out.jpg").write_bytes(b"a file")
    with pytest.raises(SystemExit) as exit_:
        main(["strip", str(photos), str(photos / "out.jpg")])
    assert exit_.value.code == 2
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "out.jpg"][: 1 + existing]


def test_a_full_disk_leaves_no_partial_file(large_photos: Path, tmp_path: Path) -> None:
    """The write fails half-way (a file size limit stands in for a full disk: the same
    failed write(2), without filling one): no output, no temporary file, OUT named."""

    def small_files_only() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (MIB, MIB))

    target = tmp_path / "out.jpg"
    done = subprocess.run(
        [*CLI, "strip", str(large_photos / "0.jpg"), str(target)],
        capture_output=True,
        preexec_fn=small_files_only,
        check=False,
    )
    assert done.returncode == 1
    assert list(tmp_path.iterdir()) == []
    assert done.stderr.decode() == f"exif-stripper: {target}: File too large\n"


def test_a_full_device_is_reported_as_out(tmp_path: Path) -> None:
    source, full = tmp_path / "in.jpg", _character_device(tmp_path, "full", 7)
    source.write_bytes(PHOTO)
    done = subprocess.run([*CLI, "strip", str(source), str(full)], capture_output=True, check=False)
    assert done.returncode == 1
    assert done.stderr.decode() == f"exif-stripper: {full}: No space left on device\n"
    assert stat.S_ISCHR(full.stat().st_mode)


# --- IN that is not a plain file -----------------------------------------------------------------


def test_in_as_a_fifo_is_read_like_stdin(tmp_path: Path) -> None:
    fifo, target = tmp_path / "in.fifo", tmp_path / "out.jpg"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(PHOTO,))
    writer.start()
    assert main(["strip", str(fifo), str(target)]) == 0
    writer.join(timeout=30)
    assert target.read_bytes() == STRIPPED


def test_in_as_a_socket_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(tmp_path / "s.jpg"))
        with pytest.raises(SystemExit) as exit_:
            main(["strip", str(tmp_path / "s.jpg"), str(tmp_path / "out.jpg")])
    assert exit_.value.code == 2
    assert "s.jpg: a socket, not a file to read" in capsys.readouterr().err


def test_unreadable_files_and_folders_in_directory_mode_are_failures(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "private").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(PHOTO)
    (photos / "locked.jpg").write_bytes(PHOTO)
    (photos / "private" / "c.jpg").write_bytes(PHOTO)
    (photos / "locked.jpg").chmod(0)
    (photos / "private").chmod(0)
    try:
        done = subprocess.run(
            [*_unprivileged(), *CLI, "strip", str(photos), str(tmp_path / "web")],
            capture_output=True,
            check=False,
        )
    finally:
        (photos / "private").chmod(0o755)
    err = done.stderr.decode()
    assert done.returncode == 1
    assert f"exif-stripper: {photos / 'locked.jpg'}: Permission denied\n" in err
    assert f"exif-stripper: {photos / 'private'}: Permission denied\n" in err
    assert "1 written, 0 rejected, 2 failed" in err
    assert (tmp_path / "web" / "a.jpg").read_bytes() == STRIPPED


def test_links_and_link_loops_in_the_tree_are_skipped(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(PHOTO)
    (photos / "loop").symlink_to(photos)  # a folder that contains itself
    (photos / "self.jpg").symlink_to(photos / "self.jpg")
    (photos / "other.jpg").symlink_to(photos / "a.jpg")
    done = subprocess.run(
        [*CLI, "strip", str(photos), str(tmp_path / "web")],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert "1 written, 0 rejected, 0 failed, 2 skipped" in done.stderr.decode()
    assert [p.name for p in (tmp_path / "web").iterdir()] == ["a.jpg"]


# --- size ---------------------------------------------------------------------------------------


def _bytes_read() -> int:
    """What this process has read so far (Linux: /proc/self/io, every read(2) counted)."""
    text = Path("/proc/self/io").read_text()
    return int(re.search(r"^rchar: (\d+)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]


@pytest.fixture
def sparse_2gb(tmp_path: Path) -> Path:
    """2 GiB, almost all a hole: a JPEG cut inside its scan, then zeros (valid scan data)."""
    path = tmp_path / "huge.jpg"
    with path.open("wb") as out:
        out.write(base_jpeg(64, 48)[:-100])
        out.truncate(2 * 1024**3)
    return path


needs_proc_io = pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="counts reads with Linux's /proc/self/io"
)


@needs_proc_io
@pytest.mark.parametrize("command", ["strip", "inspect"])
def test_a_huge_file_is_refused_by_its_size_before_it_is_read(
    sparse_2gb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    args = [command, str(sparse_2gb)] + ([str(tmp_path / "out.jpg")] if command == "strip" else [])
    before = _bytes_read()
    assert main(args) == 3
    assert _bytes_read() - before < MIB
    assert "too-large: file is 2147483648 bytes, over the limit of 536870912 bytes" in (
        capsys.readouterr().err
    )


def _endless_jpeg() -> Iterator[bytes]:
    """A JPEG whose scan never ends: its header, then zeros (valid entropy-coded data)."""
    yield base_jpeg(64, 48)[:-100]
    while True:
        yield bytes(MIB)


def _feed(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    try:
        for chunk in _endless_jpeg():
            process.stdin.write(chunk)
    except (BrokenPipeError, ValueError):
        pass  # the command stopped reading, as it should


@pytest.mark.parametrize("command", ["strip", "inspect"])
def test_a_stream_is_refused_at_the_byte_limit(tmp_path: Path, command: str) -> None:
    args = ["-", str(tmp_path / "out.jpg")] if command == "strip" else ["-"]
    process = subprocess.Popen(
        [*CLI, command, "--max-bytes", str(4 * MIB), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    feeder = threading.Thread(target=_feed, args=(process,))
    feeder.start()
    assert process.stderr is not None
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 3
    feeder.join()
    assert "too-large: file exceeds the limit of 4194304 bytes" in err
    assert not (tmp_path / "out.jpg").exists()
