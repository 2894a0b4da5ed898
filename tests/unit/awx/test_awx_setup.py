"""playbooks/awx_setup.yml checked without an AWX: every awx.awx task against the module's argument spec as the awx
source declares it (awx_module_specs.json, with the repository and commit it was read from), the surveys against the
checks AWX's API makes, the job templates against the playbooks, the workflow against the job templates, and
``ansible-playbook --syntax-check`` with the awx.awx modules stubbed (the ansible package does not ship awx.awx)."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "playbooks" / "awx_setup.yml"
SPECS = json.loads((Path(__file__).parent / "awx_module_specs.json").read_text())
CREDENTIAL_TYPE_FILE = REPO / "extensions" / "awx" / "onepassword_credential_type.yml"
AWX_PREFIX = "awx.awx."
PHASES = ("storage", "nodes", "preflight", "secrets", "databases", "migrate", "cutover", "rollback", "retire")
WORKFLOW_SUCCESS_PATH = ("storage", "nodes", "secrets", "databases", "migrate", "approval", "cutover", "approval", "retire")

TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
VARIABLE_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
PYTHON_TYPES = {"str": (str, int, float), "path": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                "dict": (dict,), "list": (list,), "raw": (object,)}


def is_templated(value):
    return isinstance(value, str) and TEMPLATE.search(value) is not None


def resolve(value, variables, depth=0):
    """``value`` with each ``{{ name }}`` of a play variable put in; any other expression stays as it is."""
    if depth > 10:
        return value
    if isinstance(value, dict):
        return {key: resolve(item, variables, depth) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, variables, depth) for item in value]
    if not isinstance(value, str):
        return value
    whole = VARIABLE_REFERENCE.fullmatch(value.strip())
    if whole and whole[1] in variables:
        return resolve(variables[whole[1]], variables, depth + 1)

    def put_in(match):
        found = variables.get(match[1])
        return str(found) if isinstance(found, (str, int)) and not isinstance(found, bool) else match[0]

    replaced = VARIABLE_REFERENCE.sub(put_in, value)
    return resolve(replaced, variables, depth + 1) if replaced != value else value


def is_type(value, type_name):
    if type_name in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, PYTHON_TYPES[type_name])


def value_problems(value, spec, where):
    if is_templated(value):
        return []  # known when the play runs, not here
    if not is_type(value, spec["type"]):
        return ["%s: %r is not of type %s" % (where, value, spec["type"])]
    problems = []
    if spec["type"] == "list":
        element = {"type": spec.get("elements", "raw"), "required": False}
        if "suboptions" in spec:
            element["suboptions"] = spec["suboptions"]
        for index, item in enumerate(value):
            problems += value_problems(item, element, "%s[%d]" % (where, index))
    elif "choices" in spec and value not in spec["choices"]:
        problems.append("%s: %r is not one of %s" % (where, value, spec["choices"]))
    if spec["type"] == "dict" and "suboptions" in spec:
        problems += option_problems(value, spec["suboptions"], where)
    return problems


def option_problems(given, options, where, check_required=True):
    """What is wrong with ``given`` (an option mapping) for ``options`` (an argument spec)."""
    canonical = {alias: name for name, spec in options.items() for alias in (name, *spec.get("aliases", ()))}
    problems = []
    for key, value in given.items():
        if key not in canonical:
            problems.append("%s: unknown option %r (known: %s)" % (where, key, ", ".join(sorted(options))))
        else:
            problems += value_problems(value, options[canonical[key]], "%s.%s" % (where, key))
    if check_required:
        for name, spec in options.items():
            if spec["required"] and not any(alias in given for alias in (name, *spec.get("aliases", ()))):
                problems.append("%s: required option %r is missing" % (where, name))
    return problems


def survey_problems(survey, where):
    """The checks of AWX's API when a survey spec is posted (JobTemplateSurveySpec._validate_spec_data)."""
    rules = SPECS["survey_spec"]
    if is_templated(survey):
        return []
    if not isinstance(survey, dict):
        return ["%s: a survey spec is a mapping" % where]
    problems = ["%s: field %r is missing or not a %s" % (where, field, kind)
                for field, kind in rules["fields"].items() if not isinstance(survey.get(field), PYTHON_TYPES[kind])]
    questions = survey.get("spec") if isinstance(survey.get("spec"), list) else []
    if rules["spec_not_empty"] and not questions:
        problems.append("%s: spec has no question" % where)
    variables = set()
    for index, question in enumerate(questions):
        here = "%s.spec[%d]" % (where, index)
        if is_templated(question):
            continue
        if not isinstance(question, dict):
            problems.append("%s: a question is a mapping" % here)
            continue
        problems += ["%s: %r is missing or not a %s" % (here, field, kind) for field, kind in rules["question_fields"].items()
                     if not is_type(question.get(field), kind)]
        if question.get("variable") in variables:
            problems.append("%s: variable %r is asked twice" % (here, question["variable"]))
        variables.add(question.get("variable"))
        kind = question.get("type")
        if kind not in rules["question_types"]:
            problems.append("%s: type %r is not one of %s" % (here, kind, ", ".join(rules["question_types"])))
            continue
        default = question.get("default", "")
        if default != "" and not any(is_type(default, name) for name in rules["question_types"][kind]):
            problems.append("%s: default %r does not fit type %s" % (here, default, kind))
        problems += ["%s: %s must be an integer" % (here, key) for key in rules["integer_fields"]
                     if question.get(key) is not None and not is_type(question[key], "int")]
        if kind in rules["choices_required_for"]:
            choices = question.get("choices")
            if not choices:
                problems.append("%s: a %s question needs choices" % (here, kind))
                continue
            choices = choices.splitlines() if isinstance(choices, str) else choices
            defaults = [] if default == "" else (default.splitlines() if isinstance(default, str) else default)
            if rules["multiplechoice_single_default"] and kind == "multiplechoice" and len(defaults) > 1:
                problems.append("%s: a multiplechoice question has one default" % here)
            if rules["default_among_choices"] and any(item not in choices for item in defaults):
                problems.append("%s: default %r is not among the choices %s" % (here, default, choices))
    return problems


def task_problems(module, args, defaults=None, where="task"):
    if module not in SPECS["modules"]:
        return ["%s: awx.awx.%s has no spec in awx_module_specs.json" % (where, module)]
    options = dict(SPECS["auth_options"], **SPECS["modules"][module]["options"])
    given = dict(defaults or {}, **args)
    problems = option_problems(given, options, where)
    for group in SPECS["modules"][module].get("mutually_exclusive", []):
        if len([name for name in group if name in given]) > 1:
            problems.append("%s: %s are mutually exclusive" % (where, ", ".join(group)))
    if "survey_spec" in given:
        problems += survey_problems(given["survey_spec"], "%s.survey_spec" % where)
    return problems


def load_play():
    plays = yaml.safe_load(PLAYBOOK.read_text())
    assert isinstance(plays, list) and len(plays) == 1, "one play expected in %s" % PLAYBOOK
    return plays[0]


PLAY = load_play()
VARIABLES = PLAY.get("vars", {})


def walk(tasks):
    for task in tasks:
        if "block" in task:
            yield from walk(task["block"] + task.get("rescue", []) + task.get("always", []))
        else:
            yield task


def awx_tasks():
    """(task name, module, resolved arguments) of every awx.awx task."""
    found = []
    for task in walk(PLAY.get("tasks", [])):
        actions = [key for key in task if key.startswith(AWX_PREFIX)]
        if actions:
            found.append((task["name"], actions[0][len(AWX_PREFIX):], resolve(task[actions[0]] or {}, VARIABLES)))
    return found


def module_defaults():
    return {action[len(AWX_PREFIX):]: resolve(defaults, VARIABLES)
            for action, defaults in (PLAY.get("module_defaults") or {}).items() if action.startswith(AWX_PREFIX)}


def arguments_of(module):
    return [args for _name, used, args in awx_tasks() if used == module]


def job_templates():
    """{job template name: its resolved arguments}."""
    return {args["name"]: args for args in arguments_of("job_template")}


def workflow_nodes():
    (workflow,) = arguments_of("workflow_job_template")
    return {node["identifier"]: node for node in workflow["workflow_nodes"]}


@pytest.mark.parametrize(("name", "module", "args"), awx_tasks(), ids=[name for name, _module, _args in awx_tasks()])
def test_every_awx_task_fits_its_module_spec(name, module, args):
    assert task_problems(module, args, module_defaults().get(module), where=name) == []


@pytest.mark.parametrize("module", sorted(module_defaults()))
def test_module_defaults_fit_the_module_spec(module):
    options = dict(SPECS["auth_options"], **SPECS["modules"][module]["options"])
    assert option_problems(module_defaults()[module], options, "module_defaults", check_required=False) == []


def test_the_specs_hold_exactly_the_modules_the_playbook_uses():
    used = {module for _name, module, _args in awx_tasks()} | set(module_defaults())
    assert used == set(SPECS["modules"])
    assert SPECS["source"]["repository"] == "https://github.com/ansible/awx"
    assert re.fullmatch(r"[0-9a-f]{40}", SPECS["source"]["commit"])


def project_arguments():
    return copy.deepcopy(arguments_of("project")[0])


def migrate_template():
    return copy.deepcopy(job_templates()["stateshift migrate"])


def workflow_arguments():
    return copy.deepcopy(arguments_of("workflow_job_template")[0])


def with_unknown_option():
    args = project_arguments()
    args["scm_urll"] = args.pop("scm_url")
    return "project", args, "unknown option 'scm_urll'"


def without_required_option():
    args = project_arguments()
    del args["name"]
    return "project", args, "required option 'name' is missing"


def with_value_out_of_choices():
    args = project_arguments()
    args["scm_type"] = "github"
    return "project", args, "'github' is not one of"


def with_wrong_type():
    args = project_arguments()
    args["wait"] = ["yes"]
    return "project", args, "is not of type bool"


def with_misspelled_node_link():
    args = workflow_arguments()
    args["workflow_nodes"][0]["related"]["succes_nodes"] = args["workflow_nodes"][0]["related"].pop("success_nodes")
    return "workflow_job_template", args, "unknown option 'succes_nodes'"


def with_node_without_identifier():
    args = workflow_arguments()
    del args["workflow_nodes"][1]["identifier"]
    return "workflow_job_template", args, "workflow_nodes[1]: required option 'identifier' is missing"


def with_question_without_required():
    args = migrate_template()
    del args["survey_spec"]["spec"][1]["required"]
    return "job_template", args, "'required' is missing or not a bool"


def with_unknown_question_type():
    args = migrate_template()
    args["survey_spec"]["spec"][1]["type"] = "boolean"
    return "job_template", args, "type 'boolean' is not one of"


def with_default_outside_the_choices():
    args = migrate_template()
    args["survey_spec"]["spec"][1]["default"] = "yes"
    return "job_template", args, "default 'yes' is not among the choices"


def with_both_organization_and_team():
    args = copy.deepcopy(arguments_of("credential")[0])
    args["team"] = "operators"
    return "credential", args, "organization, user, team are mutually exclusive"


@pytest.mark.parametrize("mistake", [with_unknown_option, without_required_option, with_value_out_of_choices, with_wrong_type,
                                     with_misspelled_node_link, with_node_without_identifier, with_question_without_required,
                                     with_unknown_question_type, with_default_outside_the_choices,
                                     with_both_organization_and_team])
def test_the_checker_catches_a_wrong_argument(mistake):
    module, args, expected = mistake()
    problems = task_problems(module, args, module_defaults().get(module))
    assert any(expected in problem for problem in problems), problems


def test_a_module_default_satisfies_a_required_option_only_when_it_is_there():
    args = {key: value for key, value in arguments_of("inventory")[0].items() if key != "organization"}
    assert "task: required option 'organization' is missing" in task_problems("inventory", args)
    assert task_problems("inventory", args, {"organization": "Default"}) == []


def test_one_job_template_per_phase_each_running_its_playbook():
    templates = job_templates()
    phases = {Path(args["playbook"]).stem: name for name, args in templates.items()}
    assert sorted(phases) == sorted(PHASES)
    assert len(templates) == len(PHASES)
    for name, args in templates.items():
        assert args["playbook"] == "playbooks/%s.yml" % Path(args["playbook"]).stem, name
        assert (REPO / args["playbook"]).is_file(), "%s runs %s, which is not in the repository" % (name, args["playbook"])


def reads_the_catalog(playbook):
    return "stateshift.k3s.validate_catalog" in (REPO / playbook).read_text()


def test_surveys_ask_what_the_playbooks_read_at_launch():
    for name, args in job_templates().items():
        questions = {question["variable"]: question for question in args.get("survey_spec", {}).get("spec", [])}
        expected = set()
        if reads_the_catalog(args["playbook"]):
            expected.add("workloads")  # validate_catalog keeps the workloads of -e workloads=a,b
        if args["playbook"] == "playbooks/migrate.yml":
            expected.add("stateshift_force")
        assert set(questions) == expected, name
        assert args.get("survey_enabled", False) is bool(expected), name
        if "workloads" in questions:
            assert questions["workloads"]["type"] == "text" and questions["workloads"]["required"] is False
        if "stateshift_force" in questions:
            assert questions["stateshift_force"]["default"] == "false"
    surveyed = json.dumps([args.get("survey_spec") for args in arguments_of("job_template") + arguments_of("workflow_job_template")])
    assert "soak_days" not in surveyed  # retire.soak_days belongs to the catalog


def test_the_workflow_runs_the_phases_in_order_with_approvals_and_rollback_after_a_failed_cutover():
    nodes = workflow_nodes()
    templates = job_templates()
    phase_of = {name: Path(args["playbook"]).stem for name, args in templates.items()}

    def step(identifier):
        template = nodes[identifier]["unified_job_template"]
        return "approval" if template["type"] == "workflow_approval" else phase_of[template["name"]]

    def next_nodes(identifier, link):
        return [linked["identifier"] for linked in nodes[identifier].get("related", {}).get(link, [])]

    for identifier, node in nodes.items():
        template = node["unified_job_template"]
        assert template["type"] in ("job_template", "workflow_approval"), identifier
        if template["type"] == "job_template":
            assert template["name"] in templates, "node %s runs %r, which the play does not define" % (identifier, template["name"])
        for link in ("success_nodes", "failure_nodes", "always_nodes"):
            assert set(next_nodes(identifier, link)) <= set(nodes), (identifier, link)

    path, current = [], "storage"
    while current:
        path.append(step(current))
        following = next_nodes(current, "success_nodes")
        assert len(following) <= 1, current
        current = following[0] if following else None
    assert tuple(path) == WORKFLOW_SUCCESS_PATH

    failures = {identifier: next_nodes(identifier, "failure_nodes") for identifier in nodes if next_nodes(identifier, "failure_nodes")}
    assert {step(identifier): [step(target) for target in targets] for identifier, targets in failures.items()} == {"cutover": ["rollback"]}


def test_workflow_nodes_carry_what_the_module_reads_without_checking():
    # workflow_job_template's create_workflow_nodes reads node['identifier'] and node['unified_job_template']['name'] and
    # ['type'] unconditionally (the argument spec has no suboptions, so Ansible does not default them)
    for identifier, node in workflow_nodes().items():
        assert {"name", "type"} <= set(node["unified_job_template"]), identifier
    approval_names = [node["unified_job_template"]["name"] for node in workflow_nodes().values()
                      if node["unified_job_template"]["type"] == "workflow_approval"]
    assert len(approval_names) == len(set(approval_names)) == 2  # looked up by name among every approval template


def test_the_credential_type_injects_the_variables_the_secrets_role_reads():
    definition = yaml.safe_load(CREDENTIAL_TYPE_FILE.read_text())
    injected = set(definition["injectors"]["env"])
    assert injected == {"OP_SERVICE_ACCOUNT_TOKEN", "OP_CONNECT_HOST", "OP_CONNECT_TOKEN"}
    secrets_readme = (REPO / "roles" / "secrets" / "README.md").read_text()
    assert all(variable in secrets_readme for variable in injected)
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert fields["service_account_token"].get("secret") is True and fields["connect_token"].get("secret") is True
    type_task = next(task for task in walk(PLAY["tasks"]) if "awx.awx.credential_type" in task)
    assert type_task["awx.awx.credential_type"]["inputs"] == "{{ awx_setup_onepassword_credential_type.inputs }}"
    assert "extensions/awx/onepassword_credential_type.yml" in VARIABLES["awx_setup_onepassword_credential_type"]


def test_no_secret_value_in_the_playbook_only_credential_inputs_from_the_environment():
    credential_task = next(task for task in walk(PLAY["tasks"]) if "awx.awx.credential" in task)
    assert credential_task.get("no_log") is True
    for field, source in VARIABLES["awx_setup_onepassword_inputs"].items():
        assert re.fullmatch(r"\{\{ lookup\('ansible\.builtin\.env', 'OP_[A-Z_]+'\) \}\}", source), field
    text = PLAYBOOK.read_text()
    assert not re.search(r"ops_[A-Za-z0-9]{8,}|eyJ[A-Za-z0-9_-]{10,}", text)
    assert not any(option in text for option in ("controller_oauthtoken:", "controller_password:", "controller_host:"))


def test_every_variable_of_the_play_is_prefixed_and_defaulted():
    assert all(name.startswith("awx_setup_") for name in VARIABLES)
    used = set(re.findall(r"\bawx_setup_\w+", PLAYBOOK.read_text()))
    assert used <= set(VARIABLES), used - set(VARIABLES)


def test_syntax_check_passes_with_the_awx_modules_stubbed(tmp_path):
    modules = tmp_path / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    modules.mkdir(parents=True)
    for module in SPECS["modules"]:
        (modules / ("%s.py" % module)).write_text("# stub: --syntax-check resolves the action, never runs it\n")
    collections = os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("ANSIBLE_COLLECTIONS_PATH")])])
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1")
    result = subprocess.run(["ansible-playbook", "--syntax-check", str(PLAYBOOK)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_execution_environment_definitions_name_files_that_exist_and_the_collections_galaxy_yml_needs():
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    dependencies = definition["dependencies"]
    assert (REPO / dependencies["python"]).is_file()
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert {item["name"]: item["version"] for item in dependencies["galaxy"]["collections"]} == galaxy["dependencies"]
    for build_file in definition["additional_build_files"]:
        assert (REPO / build_file["src"]).exists(), build_file
    final_steps = "\n".join(definition["additional_build_steps"]["append_final"])
    for tool, url_argument in (("kubectl", "KUBECTL_URL"), ("op", "OP_URL")):
        assert "ARG %s=" % url_argument in final_steps and '"${%s}"' % url_argument in final_steps, tool
        assert "/usr/local/bin/%s" % tool in final_steps
    collection_definition = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    for kind in ("python", "system"):
        assert (REPO / collection_definition["dependencies"][kind]).is_file(), kind
