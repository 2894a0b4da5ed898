# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AMQP 0-9-1 login, and nothing more: open a connection to a vhost with PLAIN credentials, then close it.

What rabbitmq_ready needs to prove a user can log in the way clients do, without a client library on the
controller. Frames and methods as the AMQP 0-9-1 specification lays them out (section 4.2 and the
connection class); the server's refusal (403 ACCESS_REFUSED, 530 NOT_ALLOWED for a vhost) is returned as text.
"""

from __future__ import annotations

import socket
import struct

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_END = 1, 0xCE
START, START_OK, TUNE, TUNE_OK, OPEN, OPEN_OK, CLOSE, CLOSE_OK = (
    (10, 10), (10, 11), (10, 30), (10, 31), (10, 40), (10, 41), (10, 50), (10, 51))


class LoginRefused(Exception):
    """The broker refused the login or the vhost (its reply code and text), or closed the connection."""


def short_string(text):
    data = text.encode("utf-8")
    return struct.pack("B", len(data)) + data


def long_string(data):
    return struct.pack(">I", len(data)) + data


def client_properties():
    # authentication_failure_close: the broker answers a bad password with Connection.Close 403 instead of hanging up.
    capabilities = short_string("authentication_failure_close") + b"t\x01"
    table = (short_string("product") + b"S" + long_string(b"stateshift.k3s")
             + short_string("capabilities") + b"F" + long_string(capabilities))
    return long_string(table)


def method_frame(method, arguments=b""):
    payload = struct.pack(">HH", *method) + arguments
    return struct.pack(">BHI", FRAME_METHOD, 0, len(payload)) + payload + bytes([FRAME_END])


def read_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise LoginRefused("the broker closed the connection")
        data += chunk
    return data


def read_method(sock):
    """(method, arguments) of the next method frame (heartbeats and other frames are skipped)."""
    while True:
        kind, _channel, size = struct.unpack(">BHI", read_exact(sock, 7))
        payload = read_exact(sock, size + 1)[:-1]
        if kind == FRAME_METHOD:
            method = struct.unpack(">HH", payload[:4])
            if method == CLOSE:
                code = struct.unpack(">H", payload[4:6])[0]
                raise LoginRefused("%d %s" % (code, payload[7:7 + payload[6]].decode("utf-8", "replace")))
            return method, payload[4:]


def expect(sock, wanted):
    method, arguments = read_method(sock)
    if method != wanted:
        raise LoginRefused("unexpected AMQP method %s.%s (wanted %s.%s)" % (*method, *wanted))
    return arguments


def login(host, port, user, password, vhost, timeout=10):
    """Log in as ``user`` (to ``vhost`` unless None) and close again; raises LoginRefused with the broker's reason, OSError when
    the broker cannot be reached."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(PROTOCOL_HEADER)
        expect(sock, START)
        response = b"\x00" + user.encode("utf-8") + b"\x00" + password.encode("utf-8")
        sock.sendall(method_frame(START_OK, client_properties() + short_string("PLAIN") + long_string(response) + short_string("en_US")))
        channel_max, frame_max, _heartbeat = struct.unpack(">HIH", expect(sock, TUNE)[:8])
        sock.sendall(method_frame(TUNE_OK, struct.pack(">HIH", channel_max, frame_max, 0)))
        if vhost is not None:
            sock.sendall(method_frame(OPEN, short_string(vhost) + short_string("") + b"\x00"))
            expect(sock, OPEN_OK)
        sock.sendall(method_frame(CLOSE, struct.pack(">H", 200) + short_string("bye") + struct.pack(">HH", 0, 0)))
        expect(sock, CLOSE_OK)
