# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source's containers retired, on the Docker host (module source_retire): every container of the database
container's Compose project (or the database container alone) kept from starting again, stopped, and each volume they
mount archived with its sha256.

``run(argv)`` returns (rc, stdout, stderr), as AnsibleModule.run_command does. The archive is ``docker cp``'s tar of the
mount as the stopped container sees it, so named volumes and bind mounts alike are read through the Docker daemon,
wherever it keeps them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex

PROJECT_LABEL = "com.docker.compose.project"
CHUNK = 1 << 20
STOP_SECONDS = 30
ANONYMOUS = re.compile(r"[0-9a-f]{64}")  # the name Docker gives a volume an image declares


class StackError(Exception):
    pass


def _checked(run, argv, what):
    rc, out, err = run(argv)
    if rc != 0:
        raise StackError("%s failed: %s" % (what, (err or out).strip()[-500:]))
    return out


def containers(run, docker_bin, database_container):
    """The inspected containers to retire: the database container's Compose project, else the container alone."""
    rc, out, err = run([docker_bin, "inspect", "-f", '{{ index .Config.Labels "%s" }}' % PROJECT_LABEL, database_container])
    if rc != 0:
        raise StackError("source.container %s is not a container on this host (%s): name the database's container as "
                         "docker ps -a shows it" % (database_container, (err or out).strip()[-200:]))
    project = out.strip()
    names = [database_container]
    if project:
        listed = _checked(run, [docker_bin, "ps", "-a", "--filter", "label=%s=%s" % (PROJECT_LABEL, project), "--format",
                                "{{.Names}}"], "docker ps of Compose project %s" % project)
        names = sorted({name.strip() for name in listed.splitlines() if name.strip()} | {database_container})
    return project or None, json.loads(_checked(run, [docker_bin, "inspect", *names], "docker inspect"))


def archive_name(workload, mount, container):
    """``<workload>-<volume>.tar`` for a named volume, ``<workload>-<container>-<mount point>.tar`` for a bind mount or an
    anonymous volume."""
    named = mount.get("Type") == "volume" and mount.get("Name") and not ANONYMOUS.fullmatch(mount["Name"])
    stem = mount["Name"] if named else "%s-%s" % (container, mount["Destination"].strip("/"))
    return "%s-%s.tar" % (workload, re.sub(r"[^A-Za-z0-9_.-]+", "_", stem))


def plan(workload, inspected, archive_dir):
    """What retiring takes: the containers whose restart policy would start them again, those running, and one archive
    per volume or bind mount (the first container that mounts it reads it; a bound socket holds no data)."""
    restarting = [c["Name"].lstrip("/") for c in inspected
                  if (c["HostConfig"].get("RestartPolicy") or {}).get("Name") not in ("", "no", None)]
    running = [c["Name"].lstrip("/") for c in inspected if c["State"].get("Running")]
    archives, seen = [], set()
    for container in inspected:
        name = container["Name"].lstrip("/")
        for mount in container.get("Mounts") or []:
            key = (mount.get("Type"), mount.get("Name") or mount.get("Source"))
            if mount.get("Type") not in ("volume", "bind") or key in seen or (mount.get("Source") or "").endswith(".sock"):
                continue
            seen.add(key)
            archives.append({"container": name, "destination": mount["Destination"], "volume": mount.get("Name") or mount.get("Source"),
                             "path": os.path.join(archive_dir, archive_name(workload, mount, name))})
    return {"restart_disabled": restarting, "stopped": running, "archives": archives}


def disable_and_stop(run, docker_bin, restarting, running):
    if restarting:
        _checked(run, [docker_bin, "update", "--restart", "no", *restarting], "docker update --restart no")
    if running:
        _checked(run, [docker_bin, "stop", "-t", str(STOP_SECONDS), *running], "docker stop")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recorded(path, since=None):
    """(sha256, bytes) of an archive that is complete, still matches its .sha256 file and (``since``: seconds since the
    epoch) was made after ``since``, else None."""
    try:
        with open(path + ".sha256", encoding="ascii") as handle:
            wanted = handle.read().split()[0]
    except (OSError, IndexError):
        return None
    if not os.path.isfile(path) or (since is not None and os.path.getmtime(path) < since) or sha256_of(path) != wanted:
        return None
    return wanted, os.path.getsize(path)


def archive(run_shell, docker_bin, archive_item):
    """``docker cp`` of the mount into ``path``.partial (0600), then hashed and renamed beside its .sha256; returns
    (sha256, bytes). ``run_shell(command)`` runs a shell command line (the tar goes straight to the file, never through
    this process's memory)."""
    path = archive_item["path"]
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    partial = path + ".partial"
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    source = "%s:%s" % (archive_item["container"], archive_item["destination"])
    rc, out, err = run_shell("%s cp %s - > %s" % (shlex.quote(docker_bin), shlex.quote(source), shlex.quote(partial)))
    if rc != 0:
        os.unlink(partial)
        raise StackError("docker cp %s failed: %s" % (source, (err or out).strip()[-500:]))
    digest = sha256_of(partial)
    with open(path + ".sha256.partial", "w", encoding="ascii") as handle:
        handle.write("%s  %s\n" % (digest, os.path.basename(path)))
    os.replace(partial, path)
    os.replace(path + ".sha256.partial", path + ".sha256")
    return digest, os.path.getsize(path)
