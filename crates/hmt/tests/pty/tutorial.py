"""Drives `hmt tutorial` at a pseudo-terminal as a person would: Enter at
each prompt, checking each step's output before going on, then `q` and
Enter at the mock step's prompt. Prints one JSON object: the whole
transcript, the exit status, and the pids the tutorial said it started.

With --interrupt first, it sends SIGINT (what Ctrl-C sends) at the build
step's prompt instead of `q`.

Usage: tutorial.py [--interrupt] HMT [ARG...]. Every wait is bounded (60 s); a step that
does not come fails with the transcript so far.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

interrupt = sys.argv[1] == "--interrupt"
command = sys.argv[2:] if interrupt else sys.argv[1:]
primary, secondary = os.openpty()
child = subprocess.Popen(
    command + ["tutorial"],
    stdin=secondary,
    stdout=secondary,
    stderr=secondary,
    close_fds=True,
    env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
)
os.close(secondary)
transcript = ""


def fail(message):
    print(json.dumps({"error": message, "transcript": transcript}))
    child.kill()
    sys.exit(1)


def read_until(pattern, timeout=60):
    """Reads until `pattern` (a regex) appears after what was read before."""
    global transcript
    start = len(transcript)
    deadline = time.monotonic() + timeout
    while not re.search(pattern, transcript[start:]):
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"no {pattern!r} in {timeout} s")
        ready, _, _ = select.select([primary], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            fail(f"the tutorial ended before {pattern!r}")
        transcript += chunk.decode("utf-8", "replace")
    return transcript[start:]


def send(text):
    os.write(primary, text.encode())


steps = {}
steps["intro"] = read_until(r"Press Enter to continue")
send("\n")
steps["record_prompt"] = read_until(r"Press Enter to run it")
send("\n")
steps["record"] = read_until(r"Press Enter to run it")
send("\n")
steps["build"] = read_until(r"Press Enter to run it")
if interrupt:
    child.send_signal(signal.SIGINT)
else:
    send("q\n")
# The rest, to the end of output.
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    ready, _, _ = select.select([primary], [], [], 1)
    if not ready:
        if child.poll() is not None:
            break
        continue
    try:
        chunk = os.read(primary, 65536)
    except OSError:
        break
    if not chunk:
        break
    transcript += chunk.decode("utf-8", "replace")
steps["quit"] = transcript[transcript.rfind("Press Enter to run it"):]
status = child.wait(timeout=60)
pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", transcript)]
print(json.dumps({"status": status, "steps": steps, "transcript": transcript, "pids": pids}))
