# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo's last words: what the journey did to the lab's workload, read from its ledger and migration marker, and
the NFS StorageClasses the storage phase made, read from the cluster.

    python3 scripts/demo_report.py --timings <label TAB seconds per line> --total <seconds> [--namespace invoicetron]
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys

ANONYMOUS = re.compile(r"[0-9a-f]{64}")


def kubectl_json(kind, name, namespace):
    done = subprocess.run(["kubectl", "get", kind, name, "-n", namespace, "-o", "json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("cannot read %s %s/%s: %s" % (kind, namespace, name, done.stderr.strip()))
    return {key: json.loads(value) for key, value in (json.loads(done.stdout).get("data") or {}).items()}


def kubectl_items(*argv):
    done = subprocess.run(["kubectl", "get", *argv, "-o", "json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("cannot read %s: %s" % (" ".join(argv), done.stderr.strip()))
    return json.loads(done.stdout)["items"]


def nfs_classes(classes, deployments):
    """[{name, reclaim, server, path}] of the StorageClasses the storage phase made, each with the NFS export its
    provisioner (the Deployment whose PROVISIONER_NAME is the class's provisioner) mounts."""
    exports = {}
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        env = {item["name"]: item.get("value") for container in spec["containers"] for item in container.get("env") or []}
        mounted = [volume["nfs"] for volume in spec.get("volumes") or [] if "nfs" in volume]
        if env.get("PROVISIONER_NAME") and mounted:
            exports[env["PROVISIONER_NAME"]] = mounted[0]
    return [{"name": item["metadata"]["name"], "reclaim": item.get("reclaimPolicy"), **exports[item["provisioner"]]}
            for item in classes
            if (item["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "stateshift"
            and item["provisioner"] in exports]


def when(text):
    return datetime.datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def span(seconds):
    seconds = round(seconds)
    return "%d min %d s" % divmod(seconds, 60) if seconds >= 60 else "%d s" % seconds


def per_database(final_sync):
    """{database: [tables]} of the cutover's final sync (one database, or several under ``databases``)."""
    if "databases" in final_sync:
        return {name: one.get("tables") or [] for name, one in final_sync["databases"].items()}
    return {"": final_sync.get("tables") or []}


def downtime(ledger, marker):
    """Seconds from the first database blocked on the source to the cutover's end, with the two times."""
    blocked = sorted(record["at"] for key, record in marker.items() if key.endswith(".source-access") and record.get("at"))
    finished = ledger.get("cutover", {}).get("cutover_finished_at")
    if not blocked or not finished:
        return None
    return (when(finished) - when(blocked[0])).total_seconds(), blocked[0], finished


def render(workload, ledger, marker, timings, total, storage=(), workload_classes=()):
    lines = ["== %s: the whole journey in %s, ledger state %s ==" % (workload, span(total), ledger.get("state"))]
    lines += ["  %-28s %6s" % ("phase", "s")] + ["  %-28s %6s" % (label, seconds) for label, seconds in timings]
    for made in storage:
        lines.append("storage: StorageClass %s (reclaim %s) on NFS %s:%s, export checked" % (
            made["name"], made["reclaim"], made["server"], made["path"]))
    if storage and workload_classes:
        lines.append("  %s's volumes use: %s" % (workload, ", ".join(sorted(set(workload_classes)))))
    final_sync = ledger.get("cutover", {}).get("final_sync") or {}
    databases = per_database(final_sync)
    verified = final_sync.get("verified") or (bool(final_sync.get("databases")) and all(
        one.get("verified") for one in final_sync["databases"].values()))
    lines.append("copied, then verified again at the cutover (%s):" % ("checksums match" if verified else "NOT verified"))
    for database, tables in databases.items():
        rows = sum(table.get("rows") or 0 for table in tables)
        summed = sum(1 for table in tables if table.get("checksum"))
        lines.append("  %-22s %3d tables %10s rows, %d checksums compared" % (database or workload, len(tables), format(rows, ","), summed))
    stopped = downtime(ledger, marker)
    if stopped:
        lines.append("writes stopped for %.1f s at the cutover (source blocked %s, cutover finished %s)" % stopped)
    retire = ledger.get("retire") or {}
    if retire:
        lines.append("retired: %s (stopped, restart policy no)" % ", ".join(retire.get("containers") or []))
        for archive in retire.get("archives") or []:
            mib = (archive["bytes"] or 0) / 1048576
            volume = "an anonymous volume" if ANONYMOUS.fullmatch(archive["volume"]) else archive["volume"]
            digest = (archive["sha256"] or "")[:16]
            lines.append("  archived %s: %s, %.1f MiB, sha256 %s" % (volume, archive["path"], mib, digest))
        lines.append("  after these gates passed: %s" % ", ".join(gate["name"] for gate in retire.get("gates") or []))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timings", required=True)
    parser.add_argument("--total", type=float, required=True)
    parser.add_argument("--namespace", default="invoicetron")
    parser.add_argument("--app", default="invoicetron-postgresql")
    args = parser.parse_args(argv)
    with open(args.timings, encoding="utf-8") as handle:
        timings = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    ledger = kubectl_json("configmap", "%s-ledger" % args.app, args.namespace)
    marker = kubectl_json("configmap", "%s-migration" % args.app, args.namespace)
    provisioners = kubectl_items("deployment", "-A", "-l", "app.kubernetes.io/name=nfs-subdir-external-provisioner")
    storage = nfs_classes(kubectl_items("storageclass"), provisioners)
    workload_classes = [claim["spec"].get("storageClassName") or "(default)"
                        for claim in kubectl_items("persistentvolumeclaim", "-n", args.namespace)]
    print(render(args.namespace, ledger, marker, timings, args.total, storage, workload_classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
