# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build Kubernetes objects as data: postgresql_objects, rabbitmq_objects, mongodb_objects, postgresql_restore_job,
pod_security_kept, nfs_storage_objects."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import nfs_provisioner, pod_security, restore
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.mongodb import mongodb_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.rabbitmq import rabbitmq_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.classes import StorageInputError, checked


def _postgresql_objects(workload, uid=999, claim_size=None, backup_claim_size=None, namespace_labels=None, api_endpoints=None):
    if not isinstance(workload, dict) or "objects" not in workload:
        raise AnsibleFilterError("postgresql_objects: give it one workload of the validated catalog (stateshift_catalog)")
    try:
        return postgresql_objects(workload, uid=int(uid), claim_size=claim_size or None, backup_claim_size=backup_claim_size or None,
                                  namespace_labels=namespace_labels or {}, api_endpoints=_endpoints(api_endpoints))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("postgresql_objects: workload %r: %s (validate the catalog with stateshift.k3s.validate_catalog)"
                                 % (workload.get("name"), exc)) from None


def _endpoints(slices):
    """[(ip, port)] of EndpointSlices (the ``kubernetes`` Service's, as k8s_info returns them); [] when none."""
    found = []
    for item in slices or []:
        ports = [port.get("port") for port in item.get("ports") or [] if port.get("port")]
        for endpoint in item.get("endpoints") or []:
            found += [(address, port) for address in endpoint.get("addresses") or [] for port in ports]
    return sorted(set(found))


def _rabbitmq_objects(workload, uid=999, claim_size=None, namespace_labels=None):
    if not isinstance(workload, dict) or workload.get("engine") != "rabbitmq" or "objects" not in workload:
        raise AnsibleFilterError("rabbitmq_objects: give it one rabbitmq workload of the validated catalog (stateshift_catalog)")
    try:
        return rabbitmq_objects(workload, uid=int(uid), claim_size=claim_size or None, namespace_labels=namespace_labels or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("rabbitmq_objects: workload %r: %s (validate the catalog with stateshift.k3s.validate_catalog)"
                                 % (workload.get("name"), exc)) from None


def _mongodb_objects(workload, uid=999, claim_size=None, backup_claim_size=None, namespace_labels=None):
    if not isinstance(workload, dict) or workload.get("engine") != "mongodb" or "objects" not in workload:
        raise AnsibleFilterError("mongodb_objects: give it one mongodb workload of the validated catalog (stateshift_catalog)")
    try:
        return mongodb_objects(workload, uid=int(uid), claim_size=claim_size or None, backup_claim_size=backup_claim_size or None,
                               namespace_labels=namespace_labels or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("mongodb_objects: workload %r: %s (validate the catalog with stateshift.k3s.validate_catalog)"
                                 % (workload.get("name"), exc)) from None


def _nfs_storage_objects(backend, classes, namespace=nfs_provisioner.NAMESPACE, image=nfs_provisioner.IMAGE):
    try:
        backend, classes = checked(backend, classes)
    except StorageInputError as exc:
        raise AnsibleFilterError("nfs_storage_objects: %s" % exc) from None
    return [*nfs_provisioner.provisioner_objects(backend, namespace=namespace, image=image),
            *[nfs_provisioner.storage_class(item, backend) for item in classes]]


def _postgresql_restore_job(workload, request, name, uid=999):
    if not isinstance(workload, dict) or "objects" not in workload:
        raise AnsibleFilterError("postgresql_restore_job: give it one workload of the validated catalog (stateshift_catalog)")
    try:
        checked = restore.check_request(workload, dict(request or {}))
    except restore.RestoreRequestError as exc:
        raise AnsibleFilterError("restore of workload %s: %s" % (workload["name"], exc)) from None
    return restore.restore_job(workload, name, checked, uid=int(uid))


def _pod_security_kept(wanted, existing_labels=None):
    if wanted not in pod_security.LEVELS:
        raise AnsibleFilterError("pod_security_kept: %r is not one of %s" % (wanted, ", ".join(pod_security.LEVELS)))
    return pod_security.kept_stricter(wanted, existing_labels or {})


class FilterModule:
    def filters(self):
        return {"postgresql_objects": _postgresql_objects, "rabbitmq_objects": _rabbitmq_objects, "mongodb_objects": _mongodb_objects,
                "postgresql_restore_job": _postgresql_restore_job,
                "pod_security_kept": _pod_security_kept, "nfs_storage_objects": _nfs_storage_objects}
