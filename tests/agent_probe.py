"""One probe of `opscockpit agent`'s sandbox, run inside it by tests/agent.rs.

Usage: agent_probe.py OP [ARG]. Exit 0: the operation worked; 13: it failed
with a permission error (EACCES or EPERM); 1: it failed otherwise. The
error goes to stderr.
"""

import errno
import socket
import sys


def tcp(port):
    socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()


def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.close()


def udp(port=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if port is not None:
        s.connect(("127.0.0.1", int(port)))
    s.close()


def sctp():
    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()


def read(path):
    with open(path, "rb") as f:
        f.read()


def write(path):
    with open(path, "ab") as f:
        f.write(b"written from inside the sandbox\n")


OPS = {"tcp": tcp, "sctp": sctp, "udp": udp, "unix": unix, "read": read, "write": write}

try:
    OPS[sys.argv[1]](*sys.argv[2:])
except OSError as e:
    print(f"{sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(13 if e.errno in (errno.EACCES, errno.EPERM) else 1)
print(f"{sys.argv[1]}: ok")
