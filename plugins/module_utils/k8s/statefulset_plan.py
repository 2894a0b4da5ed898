# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan a change to an existing StatefulSet around its immutable fields.

Kubernetes refuses any change to a StatefulSet's volumeClaimTemplates, selector, serviceName or
podManagementPolicy with a raw 422 error. A bigger volume is still possible: keep the template as
it is and expand each claim, where the StorageClass allows it. Everything else immutable is
refused here, before anything changes, with what to do instead.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.quantity import parse_quantity


def _template(sts, claim):
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        if template["metadata"]["name"] == claim:
            return template["spec"]
    return None


def growth_error(where, field, live_size, size, class_name, storage_classes):
    """Why a claim of ``live_size`` cannot become ``size`` (the catalog's ``field``), or None when it can."""
    wanted, current = parse_quantity(size), parse_quantity(live_size)
    if wanted < current:
        return ("%s: %s cannot shrink from %s to %s; volumes only grow. Set %s back to %s or more"
                % (where, field, live_size, size, field, live_size))
    storage_class = storage_classes.get(class_name) if class_name else None
    if wanted > current and not (storage_class or {}).get("allowVolumeExpansion"):
        return ("%s: %s %s -> %s needs volume expansion, but StorageClass %s does not allow it (allowVolumeExpansion is not "
                "true). Enable it on the StorageClass if its provisioner supports expansion, or keep %s at %s"
                % (where, field, live_size, size, class_name or "(default)", field, live_size))
    return None


def plan_claims(namespace, wanted, live, storage_classes):
    """Plan claims made outside a StatefulSet (the backup's): grown like the data claims, never shrunk.

    wanted: [{name, size, field}]. live: {name: live claim dict} of those that exist. Returns
    {sizes: {name: size to apply}, resize: [{name, from, to}], recreate: [name], errors: [...]}:
    a bound claim keeps its live size in ``sizes`` and is expanded; a claim not bound yet holds no
    volume, and since its spec is immutable it is recreated at the wanted size.
    """
    result = {"sizes": {}, "resize": [], "recreate": [], "errors": []}
    for claim in wanted:
        existing = live.get(claim["name"])
        result["sizes"][claim["name"]] = claim["size"]
        if existing is None:
            continue
        live_size = existing["spec"]["resources"]["requests"]["storage"]
        if parse_quantity(live_size) == parse_quantity(claim["size"]):
            result["sizes"][claim["name"]] = live_size
        elif not existing["spec"].get("volumeName"):
            result["recreate"].append(claim["name"])
        else:
            result["sizes"][claim["name"]] = live_size
            where = "PersistentVolumeClaim %s/%s" % (namespace, claim["name"])
            error = growth_error(where, claim["field"], live_size, claim["size"], existing["spec"].get("storageClassName"),
                                 storage_classes)
            if error:
                result["errors"].append(error)
            else:
                result["resize"].append({"name": claim["name"], "from": live_size, "to": claim["size"]})
    return result


def plan(existing, desired, claims, storage_classes):
    """Return {claim_size, resize, errors, notes}.

    existing: the live StatefulSet (dict) or None. desired: {name, namespace, claim, size,
    storage_class, service_name, selector, pod_management_policy}. claims: the live PVCs of
    that template (dicts). storage_classes: {name: StorageClass dict}.
    """
    result = {"claim_size": desired["size"], "resize": [], "errors": [], "notes": []}
    if existing is None:
        return result
    where = "StatefulSet %s/%s" % (desired["namespace"], desired["name"])
    spec = existing.get("spec") or {}
    for field, key, fix in (
        ("serviceName", "service_name", "keep the workload's name"),
        ("podManagementPolicy", "pod_management_policy", "keep the current policy"),
        ("selector", "selector", "keep the workload's name and engine"),
    ):
        live, wanted = spec.get(field), desired.get(key)
        if field == "selector":
            live = (live or {}).get("matchLabels")
        if wanted is not None and live is not None and live != wanted:
            result["errors"].append("%s: %s cannot change (%r -> %r) because it is immutable; %s, or delete the "
                                    "StatefulSet with --cascade=orphan so it is recreated (its volumes stay)"
                                    % (where, field, live, wanted, fix))
    template = _template(existing, desired["claim"])
    if template is None:
        result["errors"].append("%s has no volume claim template %r; it was not created by this collection. Delete it "
                                "with --cascade=orphan or choose another workload name" % (where, desired["claim"]))
        return result
    live_size = template["resources"]["requests"]["storage"]
    live_class = template.get("storageClassName")
    result["claim_size"] = live_size
    if desired.get("storage_class") and live_class and desired["storage_class"] != live_class:
        result["errors"].append("%s: storage.class cannot change from %s to %s on existing volumes; migrate the data to a "
                                "new workload (or restore a backup) instead" % (where, live_class, desired["storage_class"]))
    wanted = parse_quantity(desired["size"])
    claim_classes = [c["spec"].get("storageClassName") for c in claims if c["spec"].get("storageClassName")]
    class_name = live_class or (claim_classes[0] if claim_classes else None) or desired.get("storage_class")
    error = growth_error(where, "storage.size", live_size, desired["size"], class_name, storage_classes)
    if error:
        result["errors"].append(error)
    elif wanted > parse_quantity(live_size):
        result["notes"].append("the volume claim template keeps %s (it is immutable); the claims are expanded to %s"
                               % (live_size, desired["size"]))
    for claim in claims:
        requested = claim["spec"]["resources"]["requests"]["storage"]
        if parse_quantity(requested) < wanted and not result["errors"]:
            result["resize"].append({"name": claim["metadata"]["name"], "from": requested, "to": desired["size"]})
    return result
