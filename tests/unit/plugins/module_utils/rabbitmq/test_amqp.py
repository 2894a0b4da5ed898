"""The AMQP login's frames, as the AMQP 0-9-1 specification lays them out (the lab test logs in to a real broker)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import amqp


def test_a_method_frame_is_type_channel_size_class_method_arguments_and_the_end_octet():
    frame = amqp.method_frame(amqp.TUNE_OK, struct.pack(">HIH", 2047, 131072, 0))
    assert frame[:7] == struct.pack(">BHI", 1, 0, 12) and frame[7:11] == struct.pack(">HH", 10, 31) and frame[-1] == 0xCE


def serve_refusal(listener):
    """A broker that sends Connection.Start, then answers Start-Ok with Connection.Close 403."""
    conn, _address = listener.accept()
    with conn:
        assert conn.recv(8) == amqp.PROTOCOL_HEADER
        start = struct.pack("BB", 0, 9) + amqp.long_string(b"") + amqp.long_string(b"PLAIN") + amqp.long_string(b"en_US")
        conn.sendall(amqp.method_frame(amqp.START, start))
        conn.recv(4096)
        conn.sendall(amqp.method_frame(amqp.CLOSE, struct.pack(">H", 403) + amqp.short_string("ACCESS_REFUSED - no") + b"\0" * 4))


def test_a_refused_login_is_raised_with_the_brokers_code_and_text():
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve_refusal, args=(listener,))
    thread.start()
    try:
        with pytest.raises(amqp.LoginRefused, match=r"^403 ACCESS_REFUSED - no$"):
            amqp.login("127.0.0.1", listener.getsockname()[1], "u", "p", "/")
    finally:
        thread.join(5)
        listener.close()
