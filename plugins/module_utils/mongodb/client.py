# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The members of a replica set, reached from the controller: ``kubectl port-forward`` to each pod, then pymongo with a
direct connection, authenticated as the root user (the password comes from the workload's Secret, never an argv).

A client's ``command(document)`` returns MongoDB's answer or raises replset.CommandFailed (ok: 0); a member that does
not answer raises MemberSilent, which replset.py treats as "did not answer".
"""

from __future__ import annotations

import contextlib

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.port_forward import PortForwardError, forwarded
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import PORT, CommandFailed

try:
    import pymongo
    from pymongo.errors import OperationFailure, PyMongoError
except ImportError:  # the modules report it with missing_required_lib before any command
    pymongo = None

    class OperationFailure(Exception):
        """Stands in for pymongo's while pymongo is missing."""

    class PyMongoError(Exception):
        """Stands in for pymongo's while pymongo is missing."""

HAS_PYMONGO = pymongo is not None


class MemberSilent(Exception):
    """The member's pod or mongod did not answer."""


class MemberClient:
    def __init__(self, pod, mongo=None, reason=None):
        self.pod, self.mongo, self.reason = pod, mongo, reason

    def command(self, document):
        if self.mongo is None:
            raise MemberSilent("pod %s: %s" % (self.pod, self.reason))
        try:
            return self.mongo.admin.command(document)
        except OperationFailure as exc:
            raise CommandFailed(exc.code, (exc.details or {}).get("codeName"), (exc.details or {}).get("errmsg", str(exc))) from None
        except PyMongoError as exc:
            raise MemberSilent("pod %s: %s" % (self.pod, exc)) from None


@contextlib.contextmanager
def member_clients(kubectl, pods, user, password, timeout=10):
    """One MemberClient per pod, in order, for as long as the ``with`` block runs."""
    with contextlib.ExitStack() as stack:
        clients = []
        for pod in pods:
            try:
                port = stack.enter_context(forwarded(kubectl, pod, PORT))
            except PortForwardError as exc:
                clients.append(MemberClient(pod, reason=str(exc)))
                continue
            mongo = pymongo.MongoClient("127.0.0.1", port, directConnection=True, username=user, password=password,
                                        authSource="admin", serverSelectionTimeoutMS=timeout * 1000,
                                        connectTimeoutMS=timeout * 1000, socketTimeoutMS=timeout * 3000)
            stack.callback(mongo.close)
            clients.append(MemberClient(pod, mongo))
        yield clients


def pods_of(workload):
    return ["%s-%d" % (workload["objects"]["statefulset"], index) for index in range(workload["replicas"])]
