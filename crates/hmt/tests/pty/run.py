"""Runs a command with a pseudo-terminal as its stdin, stdout and stderr,
and prints what it wrote there; exits with its exit status.

Used by the hmt tests to see what hmt does at a terminal (colours,
prompts) without one. Usage: run.py COMMAND [ARG...]
"""
import os
import subprocess
import sys

primary, secondary = os.openpty()
child = subprocess.Popen(sys.argv[1:], stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True)
os.close(secondary)
output = b""
while True:
    try:
        chunk = os.read(primary, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    output += chunk
status = child.wait(timeout=60)
sys.stdout.buffer.write(output)
sys.exit(status)
