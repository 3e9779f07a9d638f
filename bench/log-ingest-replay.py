#!/usr/bin/env python3
"""An engine socket for bench/log-ingest that answers a container's log as
fast as a socket can carry it.

podman 4.3 sends a log through its API at tens of thousands of lines a
second (bench/log-ingest measures that first): slower than the cockpit's
path. To measure the cockpit and not the engine, this server answers
`GET /containers/*/logs` with the body the real engine sent for that log
(recorded with curl, the engine's own frames and stamps, byte for byte) and
passes every other request (ping, version, inspect) through to the real
engine's socket.

Usage: log-ingest-replay.py LISTEN_SOCKET ENGINE_SOCKET BODY_FILE
Serves until killed. Loopback only: unix sockets on this machine.
"""

import os
import re
import socket
import sys
import threading

LOGS = re.compile(rb"^GET /[^ ]*/containers/[^/ ]+/logs\?")
HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: close\r\n\r\n"
)


def read_head(conn):
    """The request head (up to the blank line) and any bytes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    return data


def pipe(src, dst):
    try:
        while True:
            chunk = src.recv(1 << 16)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, engine, body):
    try:
        head = read_head(conn)
        if head is None:
            return
        if LOGS.match(head):
            conn.sendall(HEAD)
            with open(body, "rb") as f:
                conn.sendfile(f)
            conn.shutdown(socket.SHUT_RDWR)
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(engine)
        upstream.sendall(head)
        back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
        back.start()
        pipe(conn, upstream)
        back.join()
        upstream.close()
    except OSError:
        pass
    finally:
        conn.close()


def main():
    listen, engine, body = sys.argv[1:4]
    if os.path.exists(listen):
        os.unlink(listen)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen)
    os.chmod(listen, 0o666)
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, engine, body), daemon=True).start()


if __name__ == "__main__":
    main()
