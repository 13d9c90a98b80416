#!/usr/bin/env python3
"""Starts a server on a listening socket with TCP_DEFER_ACCEPT, as systemd's DeferAcceptSec=
gives it (see docs/deployment.md): the kernel completes the handshake but wakes the accepting
process only once the client's first bytes have arrived.

    deferred.py PORT SERVER [ARGS...]

Binds 127.0.0.1:PORT, sets TCP_DEFER_ACCEPT to 1 s, listens, and replaces itself with
`SERVER --listen-fd FD ARGS...` (same PID, so the caller stops it as it would the server)."""
import os
import socket
import sys

port, server, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
listener.bind(("127.0.0.1", port))
listener.listen(4096)
os.set_inheritable(listener.fileno(), True)
os.execv(server, [server, "--listen-fd", str(listener.fileno())] + args)
