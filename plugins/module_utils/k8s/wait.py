# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a Kubernetes object to reach a state by watching it, not by polling on a timer.

One GET gives the current state and its resourceVersion; a watch from that version delivers
every later change as it happens, so readiness is seen within the watch's latency. An expired
watch (410 Gone) or a closed stream is resumed with a fresh GET.
"""

from __future__ import annotations

import time

try:
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import NotFoundError
    from urllib3.exceptions import HTTPError as TransportError
except ImportError:  # reported by client.module_cluster
    class NotFoundError(Exception):
        pass

    class ApiException(Exception):
        pass

    class TransportError(Exception):
        pass

RECONNECT_PAUSE = 0.5


def _as_dict(obj):
    if obj is None:
        return None
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def get_or_none(resource, namespace, name):
    try:
        return _as_dict(resource.get(namespace=namespace, name=name))
    except NotFoundError:
        return None


def wait_for(client, resource, namespace, name, evaluate, timeout, clock=time.monotonic, sleep=time.sleep):
    """Watch namespace/name until evaluate(obj)['ready'] or timeout seconds pass.

    evaluate receives the object as a dict, or None while it does not exist.
    Returns (ready, state, obj, seconds_waited).
    """
    started = clock()
    deadline = started + timeout
    while True:
        obj = get_or_none(resource, namespace, name)
        state = evaluate(obj)
        if state["ready"]:
            return True, state, obj, clock() - started
        remaining = deadline - clock()
        if remaining <= 0:
            return False, state, obj, clock() - started
        version = (obj or {}).get("metadata", {}).get("resourceVersion")
        try:
            for event in client.watch(resource, namespace=namespace, name=name, resource_version=version,
                                      timeout=max(1, int(remaining + 0.999))):
                obj = None if event["type"] == "DELETED" else _as_dict(event["raw_object"])
                state = evaluate(obj)
                if state["ready"]:
                    return True, state, obj, clock() - started
                if clock() >= deadline:
                    return False, state, obj, clock() - started
        except ApiException as exc:
            if getattr(exc, "status", None) != 410:
                raise
        except TransportError:
            # The stream broke (API server restarted, connection reset): resume with a fresh GET.
            sleep(RECONNECT_PAUSE)
        if clock() >= deadline:
            return False, state, obj, clock() - started
