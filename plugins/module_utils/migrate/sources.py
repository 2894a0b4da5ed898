# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source side of a migration: where the source's client programs run and what only that side knows.

- DockerOverSsh: ``ssh host docker exec -i container program`` on the source's Docker host (or
  ``docker exec`` here when the host is the controller); never ``-t``, so bytes pass unchanged.
- LocalDsn: the program on the controller, connected with a connection string.

Each also knows its host (where the backup is written), how to describe it, the addresses at which
the cluster may reach the source, and the password to give the in-cluster Job. Passwords never
reach an argv: DockerOverSsh sends one as the first line of stdin (read by the remote shell, handed
to docker as ``-e PGPASSWORD``), LocalDsn puts it in the child's environment.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import shutil
import tempfile

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import docker_exec, patroni_source
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, Side, SideError, describe, run_process
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import dbname, explain_psql_error

SSH_UNREACHABLE_RC = 255
# The catalog leaves source.user optional; the official images' superuser is this one.
DEFAULT_PORT = 5432
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_URI_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class SshTarget:
    """The SSH options of an inventory host, as its connection plugin resolved them."""

    def __init__(self, host, port=None, user=None, private_key_file=None, extra_args="", control_dir=None, name=None):
        self.host, self.port, self.user = host, port, user
        self.private_key_file, self.extra_args = private_key_file, extra_args or ""
        self.control_dir = control_dir
        self.name = name or host

    def argv(self):
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR"]
        if self.control_dir:
            argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                     "-o", "ControlPath=%s" % os.path.join(self.control_dir, "%C")]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.private_key_file:
            argv += ["-i", os.path.expanduser(self.private_key_file)]
        argv += shlex.split(self.extra_args)
        argv.append("%s@%s" % (self.user, self.host) if self.user else self.host)
        return argv

    def where(self):
        return "%s (%s%s)" % (self.name, self.host, ":%s" % self.port if self.port else "")


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
def source_side(source, connection, inventory_name, container_side=None):
    """The side of a catalog ``source`` (a Source of context.py) for the task's host: a DSN source runs here, a
    container source on the task's host over SSH (``container_side``: a DockerOverSsh subclass for another engine's
    programs) with a private ControlMaster directory removed afterwards."""
    if source.dsn:
        yield LocalDsn(source.dsn, source.password, source.address, source.user, network_env=source.network_env(local_libpq_major()))
        return
    control_dir = tempfile.mkdtemp(prefix="stateshift-ssh-")
    try:
        ssh = ssh_target(connection, inventory_name, control_dir)
        side_class = container_side or DockerOverSsh

        def side_of(container):
            return side_class(ssh, container, source.user, source.password, source.address)

        container = source.container
        if source.patroni_members:
            container = patroni_source.leader_container(source.patroni_members, side_of)
        yield side_of(container)
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)


class SourceSide(Side):
    """A side that is also a host: shell scripts run there (the backup), and it can say how the cluster reaches it."""

    address = None
    password = None
    container_port = DEFAULT_PORT  # the server's port inside its container

    def host_script(self, script):
        """argv that runs a shell script on the source's host."""
        raise NotImplementedError

    def program_words(self, program, args, database):
        """Shell words that run the program, for use inside host_script()."""
        raise NotImplementedError

    def where(self):
        """The source's host, for messages."""
        raise NotImplementedError

    def discovered_addresses(self):
        """(host, port) pairs at which the cluster may reach the source, found on the host."""
        return []

    def password_for_cluster(self):
        """The password the in-cluster Job logs in with, or None."""
        return self.password

    def address_candidates(self):
        """source.address when set, else the discovered addresses."""
        if self.address:
            explicit = str(self.address)
            host, _sep, port = explicit.rpartition(":") if ":" in explicit else (explicit, "", "")
            return [(host, int(port or self.container_port))]
        return self.discovered_addresses()

    def host_output(self, script, stdin=b"", timeout=QUICK):
        """Run a shell script on the source's host; returns its stdout."""
        completed = run_process(self.host_script(script), self.stdin_prefix() + stdin, env=self.env(), timeout=timeout,
                                what="a script on %s" % self.where())
        if completed.returncode != 0:
            stderr = completed.stderr.decode("utf-8", "replace")
            raise SideError(describe(self, "sh", completed.returncode, stderr), stderr)
        return completed.stdout.decode("utf-8", "replace")


class DockerOverSsh(SourceSide):
    def __init__(self, ssh, container, user, password=None, address=None, docker_bin="docker", container_port=DEFAULT_PORT):
        self.ssh, self.container, self.user = ssh, container, user
        self.password, self.address, self.docker_bin = password, address, docker_bin
        self.container_port = container_port
        self.label = "source container '%s' on %s" % (container, ssh.name if ssh else "the controller")

    def exec_words(self, argv):
        return docker_exec.exec_argv(self.container, argv, docker_bin=self.docker_bin,
                                     env_names=["PGPASSWORD"] if self.password else [])

    def remote_command(self, argv):
        """A shell command line run on the Docker host."""
        if self.password:
            return "IFS= read -r PGPASSWORD && export PGPASSWORD && exec " + shlex.join(self.exec_words(argv))
        return "exec " + shlex.join(self.exec_words(argv))

    def host_argv(self, command):
        """argv that runs a shell command on the Docker host."""
        if self.ssh is None:
            return ["sh", "-c", command]
        return [*self.ssh.argv(), "--", command]

    def program_argv(self, program, args, database):
        if database is None:
            return [program, *list(args)]
        database_option = "-l" if program == "pg_dumpall" else "-d"
        return [program, "-U", self.user, database_option, dbname(database), *list(args)]

    def argv(self, program, args, database):
        return self.host_argv(self.remote_command(self.program_argv(program, args, database)))

    def host_script(self, script):
        """$PGPASSWORD is set in the script when the source has a password."""
        preamble = "IFS= read -r PGPASSWORD && export PGPASSWORD\n" if self.password else ""
        return self.host_argv(preamble + script)

    def program_words(self, program, args, database):
        return shlex.join(self.exec_words(self.program_argv(program, args, database)))

    def stdin_prefix(self):
        """The password as the first line the remote shell reads: it must be one line (the catalog refuses control characters)."""
        if not self.password:
            return b""
        if any(char in self.password for char in "\n\r\x00"):
            raise SideError("%s: the source password holds a line break or NUL byte, which cannot be handed to the Docker host "
                            "on one line: set a password without control characters" % self.label)
        return (self.password + "\n").encode()

    def where(self):
        return self.ssh.where() if self.ssh else "the controller"

    def explain(self, rc, stderr):
        return self.explain_host_failure(rc, stderr) or explain_psql_error(stderr)

    def explain_host_failure(self, rc, stderr, tools="the PostgreSQL client tools"):
        """Why SSH or docker exec failed, or None when the failure is the program's own."""
        if self.ssh is not None and rc == SSH_UNREACHABLE_RC:
            last = (stderr or "").strip().splitlines()[-1:] or ["no message"]
            return ("cannot reach the source host %s over SSH: %s. Check ansible_host, ansible_port and ansible_user "
                    "in the inventory and that the controller's key is accepted" % (self.where(), last[0]))
        return docker_exec.explain_failure(self.container, rc, stderr, host=self.where(), tools=tools)

    def discovered_addresses(self):
        """Addresses the Docker host itself reports for the container, never a guessed one (the Job sends the password
        there): a port published on a given address, the container's own IPs, then a port published on all addresses
        at the SSH host's address when that is one of the host's own (hostname -I)."""
        container, docker = shlex.quote(self.container), shlex.quote(self.docker_bin)
        out = self.host_output("%s port %s %d/tcp 2>/dev/null || true; echo ---; "
                               "%s inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' %s; echo ---; "
                               "hostname -I 2>/dev/null || true" % (docker, container, self.container_port, docker, container))
        published, _sep, rest = out.partition("---")
        addresses, _sep, own = rest.partition("---")
        ssh_host = self.ssh.host if self.ssh else None
        bound, everywhere = [], []
        for line in published.split():
            host, _sep, port = line.rpartition(":")
            host = host.strip("[]")
            if host in ("0.0.0.0", "::"):
                if ssh_host in own.split() and not ssh_host.startswith("127."):
                    everywhere.append((ssh_host, int(port)))
            elif not host.startswith("127.") and host != "::1":
                bound.append((host, int(port)))
        return bound + [(ip, self.container_port) for ip in addresses.split()] + everywhere

    def password_for_cluster(self):
        """source.password, else the container's POSTGRES_PASSWORD."""
        if self.password:
            return self.password
        env = self.host_output("%s inspect -f '{{range .Config.Env}}{{println .}}{{end}}' %s"
                               % (shlex.quote(self.docker_bin), shlex.quote(self.container)))
        for line in env.splitlines():
            if line.startswith("POSTGRES_PASSWORD="):
                return line.split("=", 1)[1]
        return None


class LocalDsn(SourceSide):
    """``user`` is only the role the Job logs in with; the programs here connect as the DSN says."""

    takes_database = False

    def __init__(self, dsn, password=None, address=None, user="postgres", network_env=None):
        self.dsn, self.password, self.address, self.user = dsn, password, address, user
        self.network_env = dict(network_env or {})  # settings the DSN itself sets win over these
        self.label = "source %s" % redact_dsn(dsn)

    def argv(self, program, args, database):
        if database is None:
            return [program, *list(args)]
        return [program, "-d", self.dsn, *list(args)]

    def host_script(self, script):
        return ["sh", "-c", script]

    def program_words(self, program, args, database):
        return shlex.join(self.argv(program, args, database))

    def env(self):
        environ = dict(os.environ, **self.network_env)
        if self.password:
            environ["PGPASSWORD"] = self.password
        return environ

    def where(self):
        return "the controller"

    def explain(self, rc, stderr):
        if rc == 127:
            return "the PostgreSQL client programs are not installed on the controller: install postgresql-client"
        return explain_psql_error(stderr)


def redact_dsn(dsn):
    """The connection string without its password (key=value, quoted or not, and URI forms)."""
    return _URI_PASSWORD.sub(r"\1***@", _DSN_PASSWORD.sub(r"\1***", dsn))


@functools.lru_cache(maxsize=1)
def local_libpq_major():
    """The major version of the controller's psql (its libpq), or None when it cannot be told."""
    try:
        completed = run_process(["psql", "--version"], timeout=10)
    except (OSError, SideError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", completed.stdout.decode("utf-8", "replace"))
    return int(match.group(1)) if completed.returncode == 0 and match else None
