"""basicprop.files: atomic writes, permissions from the umask, temp clean-up, and the folder lock."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from basicprop import files


def test_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.json"
    files.write_json(target, {"x": 1})
    files.write_json(target, {"x": 2})
    assert target.read_text() == '{\n "x": 2\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_failure_keeps_previous_file_and_removes_temp(tmp_path):
    target = tmp_path / "a.bin"
    files.write_bytes(target, b"old")
    with pytest.raises(ZeroDivisionError):
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            1 / 0
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_nan_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError):
        files.write_json(tmp_path / "a.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_mode_follows_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = files.write_bytes(tmp_path / "f", b"x")
        with files.atomic_dir(tmp_path / "d") as d:
            (d / "inner").write_bytes(b"y")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask


def test_atomic_dir_replaces_old_folder(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "stale").write_text("s")
    with files.atomic_dir(target) as d:
        (d / "new").write_text("n")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_remove_temps_only_removes_temps(tmp_path):
    (tmp_path / "ckpt.pt").write_bytes(b"keep")
    (tmp_path / ".ckpt.pt.abc123.tmp").write_bytes(b"orphan")
    (tmp_path / ".log.jsonl.xyz.tmp").write_bytes(b"orphan")
    (tmp_path / "notes.tmp").write_bytes(b"keep: not ours")
    removed = files.remove_temps(tmp_path, "ckpt.pt")
    assert [p.name for p in removed] == [".ckpt.pt.abc123.tmp"]
    files.remove_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "notes.tmp"]


HOLD = textwrap.dedent("""
    import sys, time
    from basicprop import files
    with files.folder_lock(sys.argv[1], "run directory"):
        print("locked", flush=True)
        time.sleep(60)
""")


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_refuses_second_holder_and_names_it(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(files.FolderLocked, match=rf"run directory .* is in use by process {proc.pid} on "):
            with files.folder_lock(tmp_path, "run directory"):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_killed_process_is_not_stale(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / files.LOCK_NAME).exists()  # the file stays; the kernel dropped the lock with its holder
    with files.folder_lock(tmp_path):
        with pytest.raises(files.FolderLocked):  # and a second holder in this process is refused too
            with files.folder_lock(tmp_path):
                pass
    with files.folder_lock(tmp_path):  # released at the end of the block
        pass


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BASICPROP_CACHE", str(tmp_path))
    assert files.cache_dir("eval", "classifiers") == tmp_path / "eval" / "classifiers"
    monkeypatch.delenv("BASICPROP_CACHE")
    assert files.cache_dir() == files.Path.home() / ".cache" / "basicprop"


SLOW_WRITER = textwrap.dedent("""
    import signal, sys, time, click
    from basicprop import files
    from basicprop.clitools import Group

    # as in an interactive shell, even when this test runs where SIGINT is ignored (a background job inherits that)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    @click.group(cls=Group)
    def cli():
        pass

    @cli.command()
    @click.argument("out")
    def write(out):
        with files.atomic_path(out) as tmp:
            tmp.write_bytes(b"partial")
            print("writing", flush=True)
            for _ in range(600):    # short sleeps: should the kernel hand the signal to another thread (numpy's
                time.sleep(0.1)     # BLAS pool), the handler still runs at the next wake-up, as in real work

    cli(["write", sys.argv[1]])
""")


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "aborted")])
def test_signal_during_a_write_leaves_no_temp_and_one_line(tmp_path, sig, code, word):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(tmp_path / "out.bin")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert err.strip() == word
    assert list(tmp_path.iterdir()) == []


def test_jsonable_turns_numpy_and_nan_into_json():
    import numpy as np
    got = files.jsonable({1: np.float32(0.5), "a": np.array([1.0, np.nan]), "b": (np.int64(3), float("inf"))})
    assert got == {"1": 0.5, "a": [1.0, None], "b": [3, None]}
    assert type(got["b"][0]) is int


def test_remove_temps_older_than_spares_a_live_writer(tmp_path):
    old, fresh = tmp_path / ".a.bin.old1.tmp", tmp_path / ".a.bin.new1.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (1, 1))
    assert files.remove_temps(tmp_path, "a.bin", older_than=3600) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name]


@pytest.mark.parametrize("writer", ["path", "dir"])
def test_an_interrupt_right_after_the_temp_is_made_leaves_nothing(tmp_path, monkeypatch, writer):
    """Ctrl-C arriving the instant the temp file or folder exists, before the writer's next line, leaves nothing."""
    name = "open" if writer == "path" else "mkdir"
    real = getattr(os, name)

    def make_then_interrupt(*args, **kwargs):
        made = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return made

    monkeypatch.setattr(files.os, name, make_then_interrupt)
    context = files.atomic_path if writer == "path" else files.atomic_dir
    with pytest.raises(KeyboardInterrupt):
        with context(tmp_path / "out") as tmp:
            (tmp / "x").write_text("x") if writer == "dir" else tmp.write_text("x")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
