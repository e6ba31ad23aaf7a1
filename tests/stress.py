#!/usr/bin/env python3
"""make stress: the slow, concurrent and signal cases of issue 13, against the real binary.

usage: tests/stress.py [--onecycle ./onecycle] [--data DIR] [--scale N] [--only CASE,...]

  concurrent   pairs of `train --out D` started at the same moment (different seeds): one
               runs, the other is refused (exit 2, naming the winner's pid), and every file
               in D is the winner's
  kill9        `kill -9` at random moments of a run that checkpoints every epoch, and just
               after an epoch's end (while its checkpoint is written): the checkpoint is
               never torn, a resume (or --force start) removes the leftover temporary
               files and ends with the rows and state of a straight run
  doubles      a second SIGINT/SIGTERM 0-60 ms after the first (issue 35): exit 3, an
               intact checkpoint, a resume that ends as a straight run
  interrupts   SIGINT/SIGTERM after every step position of two small runs (3 steps per
               epoch; 1 step per epoch), each resumed: the same log.csv and iters.csv rows
               (timings aside) and the same final state as a straight run
  files        a 3 GB and a 100 GB sparse file with a checkpoint's header, FIFOs and a
               device as checkpoint, config and data file: exit 2 at once, little memory
  sweep        `kill -9` on a sweep: its run saves a checkpoint and stops; a sweep started
               again at once waits for the run to release its directory, then resumes it
  fulldisk     a full disk, on small tmpfs mounts (skipped with a message where mount -t tmpfs
               is not allowed): the first checkpoint failing promises no previous one and a
               rerun no --resume; a later one keeps the previous; schedule --csv / --png
               .svg / .png leave no truncated or empty file; a sweep fails its run and its
               summary in one line each, no traceback, no truncated summary

Prints one line per case and the counts; exit 1 if any check failed. Python 3 stdlib only.
Runs everything with --threads 1 (bit-identity needs one thread count) and
OMP_WAIT_POLICY=passive; about 2-3 minutes on one free core.
"""
import argparse
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

FAILS = []
COUNTS = {}


def check(ok, what):
    if not ok:
        FAILS.append(what)
        print(f"FAIL {what}", flush=True)
    return ok


def count(key, n=1):
    COUNTS[key] = COUNTS.get(key, 0) + n


def config(path, data, images, epochs, batch=32, extra=""):
    with open(path, "w") as f:
        f.write(f"[data]\ndir = {data}\ntrain_images = {images}\ntest_images = 64\n[model]\ndepth = 8\n"
                f"[train]\nbatch_size = {batch}\nprogress = plain\nlog_iters = true\n{extra}"
                f"[schedule]\nlr = 0.3\nepochs = {epochs}\nuse_clr_beta = 10, 20, 0.95, 0.85\n")
    return path


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, **kw)


# ---- checkpoint files -------------------------------------------------------------------

def read_ckpt(path):
    """{tag: bytes} of a checkpoint whose structure and CRC are intact; None otherwise."""
    try:
        with open(path, "rb") as f:
            b = f.read()
    except OSError:
        return None
    if len(b) < 16 or b[:8] != b"ONECYCKP" or struct.unpack("<I", b[-4:])[0] != zlib.crc32(b[:-4]):
        return None
    off, out = 12, {}
    while off < len(b) - 4:
        tag, n = struct.unpack("<4sQ", b[off:off + 12])
        out[tag.decode()] = b[off + 12:off + 12 + n]
        off += 12 + n
    return out if off == len(b) - 4 else None


def state_of(sections):
    """What must match between a straight and a resumed run: everything but wall times."""
    loop = sections["LOOP"]
    loop = loop[:80] + loop[88:96]  # drop seconds and epoch_seconds, keep loss_sum
    return {k: (loop if k == "LOOP" else v) for k, v in sections.items()}


def ckpt_step(path):
    s = read_ckpt(path)
    return struct.unpack("<q", s["LOOP"][:8])[0] if s else None


def rows(path, timing=True):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    return [",".join(l.split(",")[:-2]) if timing else l for l in lines]


def same_run(ref, d, what):
    ok = check(rows(os.path.join(ref, "log.csv")) == rows(os.path.join(d, "log.csv")), f"{what}: log.csv rows")
    ok &= check(rows(os.path.join(ref, "iters.csv"), False) == rows(os.path.join(d, "iters.csv"), False),
                f"{what}: iters.csv rows")
    a, b = read_ckpt(os.path.join(ref, "checkpoint.ckpt")), read_ckpt(os.path.join(d, "checkpoint.ckpt"))
    ok &= check(a is not None and b is not None and state_of(a) == state_of(b), f"{what}: final checkpoint state")
    return ok


def leftovers(d):
    """Temporary files of the program's outputs: NAME.tmp.PID (and the older NAME.tmp)."""
    return [n for n in os.listdir(d) if re.search(r"\.tmp(\.\d+)?$", n)]


# ---- cases ------------------------------------------------------------------------------

def concurrent(bin_, tmp, data, pairs):
    cfg = config(os.path.join(tmp, "conc.cfg"), data, 128, 1)
    for i in range(pairs):
        d = os.path.join(tmp, f"conc{i}")
        seeds = (11 + 2 * i, 12 + 2 * i)
        ps = [subprocess.Popen([bin_, "train", cfg, "--out", d, "--seed", str(s), "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
              for s in seeds]
        outs = [p.communicate()[0] for p in ps]
        rcs = [p.returncode for p in ps]
        what = f"concurrent start {i}"
        count("concurrent starts (pairs)")
        if not check(sorted(rcs) == [0, 2], f"{what}: exit statuses {rcs}"):
            continue
        w = rcs.index(0)
        loser = outs[1 - w]
        if f"is in use by another onecycle process (pid {ps[w].pid})" in loser:
            count("concurrent starts refused by the lock, naming the holder's pid")
        else:  # the other one had already finished: refused as a directory holding a run
            check("already holds a run" in loser, f"{what}: refusal: {loser.strip().splitlines()[-1:]}")
        conf = open(os.path.join(d, "config.cfg")).read()
        check(f"seed = {seeds[w]}\n" in conf, f"{what}: config.cfg is the winner's")
        ck = read_ckpt(os.path.join(d, "checkpoint.ckpt"))
        check(ck is not None and f"seed = {seeds[w]}\n".encode() in ck["CONF"], f"{what}: checkpoint is the winner's")
        r = rows(os.path.join(d, "log.csv"))
        check(r is not None and len(r) == 2, f"{what}: log.csv has its header and one row")


def kill_after_epoch_line(p, rng):
    """Reads p's progress lines; right after an epoch's summary line (the checkpoint is
    written next) waits 0-60 ms, then kills p with SIGKILL."""
    target = rng.randint(1, 5)
    n = 0
    for line in p.stderr:
        if re.match(r"epoch \d+/\d+  train loss", line):
            n += 1
            if n == target:
                time.sleep(rng.uniform(0, 0.06))
                break
    p.kill()
    p.wait()


def kill9(bin_, tmp, data, kills, rng):
    # 2 steps per epoch and a checkpoint after each: a good share of a run is spent saving.
    cfg = config(os.path.join(tmp, "k9.cfg"), data, 64, 6)
    ref = os.path.join(tmp, "k9ref")
    t0 = time.time()
    check(run([bin_, "train", cfg, "--out", ref, "--threads", "1"]).returncode == 0, "kill9: straight run")
    dur = time.time() - t0
    torn = tmp_left = 0
    for i in range(kills):
        d = os.path.join(tmp, f"k9_{i}")
        # Every other kill at a random moment, the others just after an epoch's end, when
        # the checkpoint is being written.
        p = subprocess.Popen([bin_, "train", cfg, "--out", d, "--threads", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, universal_newlines=True)
        if i % 2 == 0:
            time.sleep(rng.uniform(0.2, dur * 0.9))
            p.kill()
            p.wait()
            count("kill -9 at a random moment")
        else:
            kill_after_epoch_line(p, rng)
            count("kill -9 0-60 ms after an epoch's end (checkpoint being written)")
        ck = os.path.join(d, "checkpoint.ckpt")
        if os.path.exists(ck) and read_ckpt(ck) is None:
            torn += 1
        left = leftovers(d) if os.path.isdir(d) else []
        tmp_left += bool(left)
        if os.path.exists(ck):
            r = run([bin_, "train", "--resume", ck, "--threads", "1"])
        else:
            r = run([bin_, "train", cfg, "--out", d, "--force", "--threads", "1"])
        if not check(r.returncode == 0, f"kill9 {i}: recovery exit {r.returncode}: {r.stdout[-300:]}"):
            continue
        check(not leftovers(d), f"kill9 {i}: leftovers removed: {leftovers(d)}")
        same_run(ref, d, f"kill9 {i}")
    check(torn == 0, f"kill9: {torn} torn checkpoints")
    count("kill -9 that left a temporary file (then removed by the recovery)", tmp_left)


def interrupt_at(bin_, cfg, d, after_step, sig, delay):
    """Starts a run and sends sig `delay` seconds after the progress line of step
    `after_step` (0: the 'schedule' line, before the first step) is out; returns (exit
    status, the step of the checkpoint it saved)."""
    p = subprocess.Popen([bin_, "train", cfg, "--out", d, "--threads", "1"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, universal_newlines=True)
    step = 0
    sent = False
    for line in p.stderr:
        if not sent and after_step == 0 and line.startswith("schedule "):
            time.sleep(delay)
            p.send_signal(sig)
            sent = True
        m = re.match(r"epoch \d+/\d+  batch \d+/\d+ ", line)
        if m:
            step += 1
            if not sent and step == after_step:
                time.sleep(delay)
                p.send_signal(sig)
                sent = True
    p.wait()
    return p.returncode, ckpt_step(os.path.join(d, "checkpoint.ckpt"))


def doubles(bin_, tmp, data, n, rng):
    """Issue 35: a second SIGINT/SIGTERM 0-60 ms after the first, while the first is being
    honoured (the step under way, the checkpoint's save): the run still exits 3 with an
    intact checkpoint, and the resume ends as a straight run (the second signal killed it
    under SA_RESETHAND: a terminal's Ctrl-C plus a script's forwarded one)."""
    cfg = config(os.path.join(tmp, "dbl.cfg"), data, 192, 2, batch=64)
    ref = os.path.join(tmp, "dblref")
    check(run([bin_, "train", cfg, "--out", ref, "--threads", "1"]).returncode == 0, "doubles: straight run")
    for i in range(n):
        d = os.path.join(tmp, f"dbl{i}")
        p = subprocess.Popen([bin_, "train", cfg, "--out", d, "--threads", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, universal_newlines=True)
        k, step, sent = rng.randint(1, 5), 0, False
        second = rng.choice([signal.SIGINT, signal.SIGTERM])
        for line in p.stderr:
            if re.match(r"epoch \d+/\d+  batch \d+/\d+ ", line):
                step += 1
                if not sent and step == k:
                    p.send_signal(signal.SIGINT)
                    time.sleep(rng.uniform(0, 0.06))
                    if p.poll() is None:
                        p.send_signal(second)
                        count("second signals sent while the first was honoured")
                    sent = True
        p.wait()
        what = f"doubles {i}: SIGINT after step {k}, then {signal.Signals(second).name}"
        if p.returncode == 0:
            count("double signals that arrived after the run had ended")
            continue
        ck = os.path.join(d, "checkpoint.ckpt")
        if not check(p.returncode == 3 and read_ckpt(ck) is not None,
                     f"{what}: exit {p.returncode}, checkpoint {'intact' if read_ckpt(ck) else 'missing or torn'}"):
            continue
        r = run([bin_, "train", "--resume", ck, "--threads", "1"])
        if check(r.returncode == 0, f"{what}: resume exit {r.returncode}: {r.stdout[-300:]}"):
            same_run(ref, d, what)
        count("double signals then resume")


def interrupts(bin_, tmp, data):
    # Steps of 64 images (about half a second each here), so a signal lands near the step
    # it is aimed at.
    for name, images, epochs in (("3 steps/epoch", 192, 2), ("1 step/epoch", 64, 3)):
        cfg = config(os.path.join(tmp, f"int{images}.cfg"), data, images, epochs, batch=64)
        ref = os.path.join(tmp, f"intref{images}")
        check(run([bin_, "train", cfg, "--out", ref, "--threads", "1"]).returncode == 0, f"{name}: straight run")
        total = epochs * ((images + 63) // 64)
        # A signal sent as soon as step k's progress line is read usually lands before the
        # stop check that follows the line (stop after step k); sent 50 ms later, inside step
        # k + 1 (or the evaluation before it). Every position 1..total is aimed at from
        # k = pos - 1 with the delay, then, if missed, from k = pos without it.
        hit = set()
        tries = 0
        for pos in range(1, total + 1):
            for k, delay in ((pos - 1, 0.05), (pos, 0.0)):
                if pos in hit or k >= total:
                    continue
                sig = signal.SIGINT if tries % 2 == 0 else signal.SIGTERM
                d = os.path.join(tmp, f"int{images}_{tries}")
                tries += 1
                rc, stopped = interrupt_at(bin_, cfg, d, k, sig, delay)
                what = f"{name}: {signal.Signals(sig).name} {delay * 1000:.0f} ms after step {k}'s line"
                count("interrupts (SIGINT/SIGTERM) then resume")
                if rc == 0:  # the run ended before the signal arrived: nothing to resume
                    count("interrupts that arrived after the run had ended")
                    continue
                if not check(rc == 3 and stopped is not None, f"{what}: exit {rc}, checkpoint step {stopped}"):
                    continue
                hit.add(stopped)
                print(f"    {what}: stopped at step {stopped}", flush=True)
                r = run([bin_, "train", "--resume", os.path.join(d, "checkpoint.ckpt"), "--threads", "1"])
                if check(r.returncode == 0, f"{what}: resume exit {r.returncode}: {r.stdout[-300:]}"):
                    same_run(ref, d, f"{what} (stopped at step {stopped})")
        print(f"  {name}: stopped at steps {sorted(hit)} of {total}", flush=True)
        count(f"distinct stop positions, {name} (of {total})", len(hit))


def files(bin_, tmp, data):
    def expect2(what, cmd, max_rss_mb=300):
        t0 = time.time()
        p = subprocess.Popen(["timeout", "60"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        out = p.stdout.read().decode(errors="replace")
        rc = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        took = time.time() - t0
        count("oversized and special files")
        check(rc == 2 and ru.ru_maxrss < max_rss_mb * 1024,
              f"{what}: exit {rc} in {took:.1f}s, peak RSS {ru.ru_maxrss // 1024} MB: {out.strip()[-200:]}")
        print(f"  {what}: exit {rc} in {took:.2f}s, peak RSS {ru.ru_maxrss // 1024} MB", flush=True)

    good = None
    for d in os.listdir(tmp):
        if d.startswith("k9ref"):
            good = os.path.join(tmp, d, "checkpoint.ckpt")
    header = open(good, "rb").read(12) if good else b"ONECYCKP\x01\x00\x00\x00"
    for size, name in ((3 << 30, "3 GB"), (100 << 30, "100 GB")):
        path = os.path.join(tmp, f"sparse{name.replace(' ', '')}.ckpt")
        with open(path, "wb") as f:
            f.write(header)
        try:
            os.truncate(path, size)
        except OSError as ex:
            print(f"  {name} sparse file: skipped ({ex.strerror})")
            continue
        expect2(f"eval of a {name} sparse file with a checkpoint header", [bin_, "eval", path])
        os.unlink(path)
    fifo = os.path.join(tmp, "x.fifo")
    os.mkfifo(fifo)
    expect2("eval of a FIFO", [bin_, "eval", fifo])
    expect2("train --resume of a FIFO", [bin_, "train", "--resume", fifo])
    expect2("a FIFO as config", [bin_, "info", fifo])
    expect2("eval of /dev/zero", [bin_, "eval", "/dev/zero"])
    fd = os.path.join(tmp, "fifodata")
    os.makedirs(fd)
    os.mkfifo(os.path.join(fd, "data_batch_1.bin"))
    cfg = config(os.path.join(tmp, "fifo.cfg"), fd, 64, 1)
    expect2("a FIFO as data_batch_1.bin", [bin_, "train", cfg, "--out", os.path.join(tmp, "fiforun")])


def sweep(bin_, tmp, data, kills):
    cfg = config(os.path.join(tmp, "sw.cfg"), data, 256, 40, batch=64)
    out = os.path.join(tmp, "sw")
    rundir = os.path.join(out, "base-s1")
    sw = [sys.executable, "scripts/sweep", cfg, "--out", out, "--onecycle", bin_]
    for i in range(kills):
        p = subprocess.Popen(sw, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        lock = os.path.join(rundir, "onecycle.lock")
        step0 = ckpt_step(os.path.join(rundir, "checkpoint.ckpt"))
        # wait for the run to be training (its log.csv rewritten or created after the lock)
        log = os.path.join(rundir, "log.csv")
        while time.time() - t0 < 120 and not (os.path.exists(log) and os.path.getmtime(log) > t0 - 1):
            time.sleep(0.05)
        time.sleep(1.0)
        try:
            child = int(open(lock).read().strip())
        except (OSError, ValueError):
            check(False, f"sweep kill {i}: no run started")
            p.kill()
            p.wait()
            continue
        p.kill()
        p.wait()
        count("kill -9 on a sweep")
        t1 = time.time()

        def alive():
            try:
                with open(f"/proc/{child}/status") as f:
                    st = re.search(r"^State:\s+(\S)", f.read(), re.M).group(1)
                return st != "Z"
            except OSError:
                return False
        if i == kills - 1:
            # A new sweep at once: it waits for the orphan to let go (when it is still there),
            # then resumes the run; stopped with SIGTERM once it has.
            q = subprocess.Popen(sw, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            txt = ""
            for line in q.stdout:
                txt += line
                if " resume base-s1: " in line:
                    time.sleep(1)
                    q.send_signal(signal.SIGTERM)
                if "FAILED" in line or "failed base-s1" in line:
                    break
            q.wait()
            count("sweeps started again at once after kill -9 (waited: %s)" % ("yes" if "waiting for pid" in txt
                                                                              else "no, already gone"))
            check(" resume base-s1: " in txt and q.returncode == 3, f"sweep rerun: exit {q.returncode}: {txt[-400:]}")
        while alive() and time.time() - t1 < 30:
            time.sleep(0.1)
        if not check(not alive(), f"sweep kill {i}: run {child} still alive 30 s after the sweep was killed"):
            os.kill(child, signal.SIGKILL)
        step = ckpt_step(os.path.join(rundir, "checkpoint.ckpt"))
        check(step is not None and (step0 is None or step >= step0), f"sweep kill {i}: checkpoint saved ({step})")
        print(f"  sweep kill {i}: run gone {time.time() - t1:.1f}s after the sweep, checkpoint at step {step}",
              flush=True)


# ---- a full disk ------------------------------------------------------------------------

class Tmpfs:
    """A tmpfs of `kb` KiB mounted on a new directory under tmp (root, and a kernel and
    container that allow it), unmounted on exit. .error says why not, when it could not."""

    def __init__(self, tmp, name, kb):
        self.path = os.path.join(tmp, name)
        os.makedirs(self.path)
        r = run(["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", self.path])
        self.error = None if r.returncode == 0 else (r.stdout.strip() or f"exit {r.returncode}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.error is None:
            run(["umount", self.path])


def fill(directory, leave_pages=0):
    """Fills the filesystem of directory (a tmpfs) up, then frees leave_pages pages of 4 KiB."""
    path = os.path.join(directory, "filler")
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\1" * 4096)
        except OSError:
            pass
    size = os.path.getsize(path) // 4096 * 4096
    os.truncate(path, max(0, size - 4096 * leave_pages))


def fulldisk(bin_, tmp, data):
    with Tmpfs(tmp, "mnt-probe", 64) as probe:
        if probe.error is not None:
            print(f"stress: fulldisk: skipped: cannot mount a tmpfs here ({probe.error})", flush=True)
            count("fulldisk skipped")
            return
    cfg = config(os.path.join(tmp, "full.cfg"), data, 256, 2)
    # 1. The first checkpoint (600 KB) does not fit in 400 KiB; logs and plots do.
    with Tmpfs(tmp, "mnt-first", 400) as m:
        d = os.path.join(m.path, "run")
        r = run([bin_, "train", cfg, "--out", d, "--threads", "1"])
        out = r.stdout
        check(r.returncode == 1 and "No space left on device" in out, f"fulldisk first: exit {r.returncode}: {out[-300:]}")
        check("no checkpoint has been written yet" in out and "previous checkpoint is kept" not in out,
              f"fulldisk first: message {out.strip().splitlines()[-1:]}")
        check(not os.path.exists(os.path.join(d, "checkpoint.ckpt")) and not leftovers(d),
              f"fulldisk first: files {sorted(os.listdir(d))}")
        r = run([bin_, "train", cfg, "--out", d, "--threads", "1"])
        check(r.returncode == 2 and "no checkpoint to resume" in r.stdout and "--resume" not in r.stdout,
              f"fulldisk rerun: exit {r.returncode}: {r.stdout[-300:]}")
        count("fulldisk trainings")
    # 2. The first checkpoint fits, the second (written beside it, then renamed) does not.
    with Tmpfs(tmp, "mnt-second", 1100) as m:
        d = os.path.join(m.path, "run")
        r = run([bin_, "train", cfg, "--out", d, "--threads", "1"])
        out = r.stdout
        check(r.returncode == 1 and "the previous checkpoint is kept" in out,
              f"fulldisk second: exit {r.returncode}: {out[-300:]}")
        check(ckpt_step(os.path.join(d, "checkpoint.ckpt")) == 8 and not leftovers(d),
              f"fulldisk second: checkpoint step {ckpt_step(os.path.join(d, 'checkpoint.ckpt'))}, "
              f"leftovers {leftovers(d)}")
        count("fulldisk trainings")
    # 3. schedule outputs on a full disk: an error, and no truncated or empty file.
    long_cfg = config(os.path.join(tmp, "long.cfg"), data, 50000, 30, batch=32)
    with Tmpfs(tmp, "mnt-sched", 256) as m:
        fill(m.path, leave_pages=1)
        for opt, name in (("--csv", "s.csv"), ("--png", "s.svg"), ("--png", "s.png")):
            p = os.path.join(m.path, name)
            r = run([bin_, "schedule", long_cfg, opt, p])
            check(r.returncode == 1 and "No space left on device" in r.stdout,
                  f"fulldisk schedule {opt} {name}: exit {r.returncode}: {r.stdout[-300:]}")
            check(not os.path.exists(p), f"fulldisk schedule {opt} {name}: {name} left, "
                  f"{os.path.getsize(p) if os.path.exists(p) else 0} bytes")
            count("fulldisk schedule outputs")
    # 4. A sweep on a full disk: its lock takes the last page; its run cannot start, its
    #    summary cannot be written: one line each, exit 1, no traceback, no summary left.
    with Tmpfs(tmp, "mnt-sweep", 256) as m:
        sw = os.path.join(m.path, "sw")
        os.makedirs(sw)
        fill(m.path, leave_pages=1)
        r = run([sys.executable, "scripts/sweep", cfg, "--out", sw, "--onecycle", bin_])
        out = r.stdout
        check(r.returncode == 1 and "Traceback" not in out, f"fulldisk sweep: exit {r.returncode}: {out[-600:]}")
        check("No space left on device" in out and "cannot write the summary" in out,
              f"fulldisk sweep: messages: {out[-600:]}")
        for name in ("summary.csv", "summary.md"):
            check(not os.path.exists(os.path.join(sw, name)), f"fulldisk sweep: {name} left")
        count("fulldisk sweeps")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onecycle", default="./onecycle")
    ap.add_argument("--data", default="data/cifar-10-batches-bin")
    ap.add_argument("--scale", type=int, default=1, help="multiplies the random cases (default 1)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--only", default="", help="comma-separated cases to run (default: all)")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.data, "test_batch.bin")):
        print(f"stress: skipped: no CIFAR-10 in {args.data} (make data)")
        return 0
    bin_ = os.path.abspath(args.onecycle)
    data = os.path.abspath(args.data)
    os.environ.update(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    rng = random.Random(args.seed)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="onecycle-stress-") as tmp:
        for name, fn in (("concurrent", lambda: concurrent(bin_, tmp, data, 4 * args.scale)),
                         ("kill9", lambda: kill9(bin_, tmp, data, 6 * args.scale, rng)),
                         ("interrupts", lambda: interrupts(bin_, tmp, data)),
                         ("doubles", lambda: doubles(bin_, tmp, data, 6 * args.scale, rng)),
                         ("files", lambda: files(bin_, tmp, data)),
                         ("sweep", lambda: sweep(bin_, tmp, data, 2 * args.scale)),
                         ("fulldisk", lambda: fulldisk(bin_, tmp, data))):
            if args.only and name not in args.only.split(","):
                continue
            t1 = time.time()
            print(f"stress: {name}", flush=True)
            fn()
            print(f"  {time.time() - t1:.0f}s", flush=True)
    print("stress counts:")
    for k, v in COUNTS.items():
        print(f"  {k}: {v}")
    print(f"stress: {len(FAILS)} failed checks in {time.time() - t0:.0f}s")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
