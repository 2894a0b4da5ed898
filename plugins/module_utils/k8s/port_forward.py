# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pod's port on a local port of the controller, with ``kubectl port-forward``, for as long as a ``with`` block runs."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


class PortForwardError(Exception):
    """kubectl port-forward did not start (its own message)."""


@contextlib.contextmanager
def forwarded(kubectl, pod, port, timeout=30):
    """Yield the local port at which ``pod``'s ``port`` answers (127.0.0.1)."""
    argv = kubectl("port-forward", "--address", "127.0.0.1", "pod/%s" % pod, ":%d" % port)
    try:
        # pylint: disable-next=consider-using-with,ansible-bad-function
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    except FileNotFoundError:
        raise PortForwardError("%s is not installed (set kubectl_bin)" % argv[0]) from None
    try:
        local = _local_port(process, timeout)
        yield local
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _local_port(process, timeout):
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            found = FORWARDING.search(line)
            if found:
                return int(found.group(1))
    finally:
        timer.cancel()
    raise PortForwardError("kubectl port-forward stopped: %s" % (process.stderr.read().strip() or "no output within %ss" % timeout))
