from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import compose


class Host:
    """The commands a Docker host answers: argv tuple prefix -> (rc, out, err); records what ran."""

    def __init__(self, answers):
        self.answers, self.ran = answers, []

    def __call__(self, argv):
        self.ran.append(argv)
        for prefix, answer in self.answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return answer
        return 1, "", "unknown command"


V1 = ("docker-compose",)


def project(running):
    return Host({("docker", "compose", "version"): (1, "", "not a docker command"), ("docker-compose", "version"): (0, "1.29", ""),
                 (*V1, "--project-directory", "/p", "config"): (0, "db\napp\nworker\n", ""),
                 (*V1, "--project-directory", "/p", "ps"): (0, "\n".join(running), ""),
                 (*V1, "--project-directory", "/p", "stop"): (0, "", ""),
                 (*V1, "--project-directory", "/p", "up"): (0, "", "")})


def test_v1_is_used_when_v2_is_missing_and_the_database_keeps_running():
    host = project(["db", "app", "worker"])
    argv = compose.compose_argv(host, "docker")
    chosen, running = compose.plan(host, argv, "/p", [], "db")
    assert argv == ["docker-compose"] and chosen == ["app", "worker"] and running == ["app", "worker"]
    assert compose.change(host, argv, "/p", "stopped", chosen, running, False) == ["app", "worker"]
    assert host.ran[-1] == ["docker-compose", "--project-directory", "/p", "stop", "app", "worker"]


def test_started_acts_only_on_what_is_not_running_and_check_mode_runs_nothing():
    host = project(["db", "worker"])
    chosen, running = compose.plan(host, ["docker-compose"], "/p", ["app", "worker"], "db")
    before = len(host.ran)
    assert compose.change(host, ["docker-compose"], "/p", "started", chosen, running, True) == ["app"]
    assert len(host.ran) == before


def test_an_unknown_service_is_named_with_the_ones_the_project_has():
    with pytest.raises(compose.ComposeError) as raised:
        compose.plan(project([]), ["docker-compose"], "/p", ["api"], "db")
    assert "api" in str(raised.value) and "db, app, worker" in str(raised.value)
