# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Arguments of pg_migrate and pg_compare, and the SSH options of the task's host turned into an SshTarget."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import tempfile

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SshTarget

SOURCE_SPEC = dict(
    container=dict(type="str"),
    user=dict(type="str", default="postgres"),
    password=dict(type="str", no_log=True),
    dsn=dict(type="str"),
    address=dict(type="str"),
    docker_bin=dict(type="str", default="docker"),
)

COMMON_SPEC = dict(
    workload=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    database=dict(type="str", required=True),
    source=dict(type="dict", required=True, options=SOURCE_SPEC,
                required_one_of=[("container", "dsn")], mutually_exclusive=[("container", "dsn")]),
    target_user=dict(type="str", required=True),
    verify=dict(type="str", default="checksum", choices=["checksum", "count"]),
    report_dir=dict(type="path"),
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    kubectl_bin=dict(type="str", default="kubectl"),
)

MIGRATE_SPEC = dict(
    COMMON_SPEC,
    verify=dict(type="str", default="checksum", choices=["checksum", "count", "none"]),
    target_secret=dict(type="str", required=True),
    target_password_key=dict(type="str", default="postgres-password", no_log=False),
    target_image=dict(type="str", required=True),
    jobs=dict(type="int", default=2),
    force=dict(type="bool", default=False),
    transport=dict(type="str", default="auto", choices=["auto", "job", "stream"]),
    backup=dict(type="dict", default={}, options=dict(enabled=dict(type="bool", default=True), dir=dict(type="str"))),
    keep_privileged_roles=dict(type="bool", default=False),
    restore_settings=dict(type="dict"),
    timeout=dict(type="int", default=86400),
    progress_interval=dict(type="float", default=5.0),
)


def ssh_target(connection, inventory_name, control_dir):
    """The SshTarget for the task's host, or None when the host is the controller (connection: local)."""
    if connection is None or connection.transport in ("local", "ansible.builtin.local"):
        return None

    def option(name):
        try:
            return connection.get_option(name)
        except KeyError:
            return None

    extra = " ".join(shlex.quote(part) for value in (option("ssh_common_args"), option("ssh_extra_args")) if value
                     for part in shlex.split(value))
    return SshTarget(option("host") or inventory_name, port=option("port"), user=option("remote_user"),
                     private_key_file=option("private_key_file"), extra_args=extra, control_dir=control_dir,
                     name=inventory_name)


@contextlib.contextmanager
def source_host_ssh(args, connection, inventory_name):
    """The SshTarget of the task's host for a container source (None for a DSN), with a private
    ControlMaster directory that is removed afterwards."""
    control_dir = tempfile.mkdtemp(prefix="stateshift-ssh-")
    try:
        yield None if args["source"].get("dsn") else ssh_target(connection, inventory_name, control_dir)
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)
