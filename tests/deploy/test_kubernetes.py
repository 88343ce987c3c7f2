"""deploy/kubernetes, rendered offline (tests.support.kustomize) and checked against what it
deploys: every object strictly valid for Kubernetes (kubernetes-validate) or KEDA
(tests/deploy/schemas), probes and the scaler's URL on real routes of the app, commands
that Caviar's CLI parses, images, users and ports as the Dockerfile builds them, secrets
referenced and never written, and a grace period the worker's give-back fits in."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from caviar.cli import build_parser
from domain.roles import Role
from service.app import create_app
from service.auth.guard import is_protected
from service.auth.tokens import create_token
from service.settings import Settings
from tests.support.kustomize import Object, containers, pod_specs, render, split_image
from worker.client import REQUEST_TIMEOUT
from worker.session import GIVE_BACK_RETRY

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(path.name for path in (KUBERNETES / "overlays").iterdir())
KUBERNETES_VERSION = "1.32.0"  # the schemas objects are checked against (kubernetes-validate)
SCHEMAS = Path(__file__).parent / "schemas"
KEDA_SCHEMAS = {kind: json.loads((SCHEMAS / f"keda-{kind.lower()}.json").read_text())
                for kind in ("ScaledObject", "TriggerAuthentication")}
SECRET_ENV = {"CAVIAR_DATABASE_URL", "CAVIAR_TOKEN", "POSTGRES_PASSWORD"}


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[Object]:
    """The objects of one overlay, as `kubectl kustomize` renders them."""
    return render(KUBERNETES / "overlays" / request.param)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app, requiring tokens, on a SQLite file."""
    folder = tmp_path_factory.mktemp("k8s")
    settings = Settings(database_url=f"sqlite:///{folder / 'caviar.db'}", auth="required")
    with TestClient(create_app(settings)) as client:
        yield client


def one(objects: list[Object], kind: str, name: str) -> Object:
    found = [item for item in objects
             if item["kind"] == kind and item["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def container(objects: list[Object], kind: str, name: str) -> Object:
    """The one (main) container of an object's pods."""
    [main] = pod_specs(one(objects, kind, name))[0]["containers"]
    return main


def caviar_containers(objects: list[Object]) -> list[Object]:
    return [c for item in objects for c in containers(item)
            if split_image(c["image"])[0].rsplit("/", 1)[-1] == "caviar"]


def dockerfile() -> dict[str, Any]:
    """What the Dockerfile says of the image: EXPOSE, CMD, USER (and its uid), ENV."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    facts: dict[str, Any] = {"expose": [], "env": {}}
    for line in text.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "EXPOSE":
            facts["expose"] += [int(port.split("/")[0]) for port in rest.split()]
        elif keyword == "CMD":
            facts["cmd"] = json.loads(rest)
        elif keyword == "USER":
            facts["user"] = rest.strip()
        elif keyword == "ENV":
            facts["env"].update(word.split("=", 1) for word in shlex.split(rest))
        elif keyword == "RUN" and rest.startswith("useradd"):
            words = shlex.split(rest)
            facts["uids"] = {words[-1]: int(words[words.index("--uid") + 1])}
    return facts


def parse(command: list[str]) -> Any:
    """The command line as `caviar` parses it (argparse exits on a bad one)."""
    assert command[0] == "caviar", command
    return build_parser(command[1:]).parse_args(command[1:])


def routes(client: TestClient) -> set[str]:
    """The app's routes, as its OpenAPI document lists them."""
    return set(client.app.openapi()["paths"])  # type: ignore[attr-defined]


# --- every object is valid ---------------------------------------------------------------------

def test_every_object_is_strictly_valid(rendered):
    for item in rendered:
        schema = KEDA_SCHEMAS.get(item["kind"])
        if schema is not None:
            errors = list(Draft202012Validator(schema).iter_errors(item))
            assert not errors, f"{item['kind']} {item['metadata']['name']}: {errors[0].message}"
        else:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)


def test_the_renderer_agrees_with_kubectl_kustomize(rendered, request):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here: the renderer is checked where one is installed")
    overlay = KUBERNETES / "overlays" / request.node.callspec.params["rendered"]
    printed = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True,
                             text=True, check=True, timeout=60).stdout
    key = lambda item: (item["kind"], item["metadata"]["name"])  # noqa: E731
    assert sorted(yaml.safe_load_all(printed), key=key) == sorted(rendered, key=key)


# --- the server ------------------------------------------------------------------------------

def test_the_server_runs_the_image_s_command_on_its_exposed_port(rendered):
    image = dockerfile()
    server = container(rendered, "Deployment", "caviar-server")
    assert server["command"] == image["cmd"]
    args = parse(server["command"])
    assert args.command == "serve" and args.host == "0.0.0.0"
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    assert list(ports.values()) == [args.port] and args.port in image["expose"]
    assert one(rendered, "Deployment", "caviar-server")["spec"]["replicas"] == 2


def test_probes_ask_an_open_route_of_the_app_on_the_server_s_port(rendered, app_client):
    server = container(rendered, "Deployment", "caviar-server")
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = server[probe]["httpGet"]
        assert get["path"] in routes(app_client), get["path"]
        assert not is_protected(get["path"])  # the kubelet sends no token
        assert ports.get(get["port"], get["port"]) in ports.values()
        assert app_client.get(get["path"]).status_code == 200


def test_the_service_reaches_the_server_pods_and_only_them(rendered):
    service = one(rendered, "Service", "caviar-server")
    server = container(rendered, "Deployment", "caviar-server")
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    [port] = service["spec"]["ports"]
    assert ports.get(port["targetPort"], port["targetPort"]) in ports.values()
    selector = service["spec"]["selector"].items()
    for item in rendered:
        if pod_specs(item):
            labels = item["spec"]["template"]["metadata"]["labels"].items()
            name = item["metadata"]["name"]
            assert (selector <= labels) == (name == "caviar-server"), name


# --- the migrate Job and the workers -----------------------------------------------------------

def test_the_job_migrates_the_database_of_the_secret(rendered):
    job = container(rendered, "Job", "caviar-migrate")
    assert parse(job["command"]).command == "migrate"
    server = container(rendered, "Deployment", "caviar-server")
    url = [env for env in job["env"] if env["name"] == "CAVIAR_DATABASE_URL"]
    assert url == [env for env in server["env"] if env["name"] == "CAVIAR_DATABASE_URL"]


def test_the_worker_command_parses_and_names_the_service(rendered):
    worker = container(rendered, "Deployment", "caviar-worker")
    args = parse(worker["command"])
    assert args.command == "worker"
    service = one(rendered, "Service", "caviar-server")
    address = urlsplit(args.server)
    assert address.scheme == "http" and address.hostname == service["metadata"]["name"]
    assert address.port == service["spec"]["ports"][0]["port"]
    assert worker["resources"]["requests"]["cpu"] == str(args.processes)  # a core a process


def test_the_worker_has_time_to_give_its_trial_back(rendered):
    """On SIGTERM the worker gives its trial back (worker.session): a request in flight
    first, then the give-back's tries, each up to the client's timeout, with back-off."""
    attempts = GIVE_BACK_RETRY.attempts or 1
    backoff = sum(min(GIVE_BACK_RETRY.cap, GIVE_BACK_RETRY.base * 2**n)
                  for n in range(attempts - 1))
    needed = REQUEST_TIMEOUT * (1 + attempts) + backoff
    [spec] = pod_specs(one(rendered, "Deployment", "caviar-worker"))
    assert spec["terminationGracePeriodSeconds"] >= needed


def test_the_worker_caches_datasets_on_a_volume(rendered):
    """The root filesystem is read-only: the image's CAVIAR_CACHE_DIR must be mounted."""
    cache = dockerfile()["env"]["CAVIAR_CACHE_DIR"]
    worker = container(rendered, "Deployment", "caviar-worker")
    assert cache in {mount["mountPath"] for mount in worker["volumeMounts"]}


# --- KEDA ----------------------------------------------------------------------------------------

def test_keda_scales_the_workers_on_the_fleet_route(rendered, app_client):
    scaled = one(rendered, "ScaledObject", "caviar-worker")["spec"]
    target = one(rendered, "Deployment", scaled["scaleTargetRef"]["name"])
    assert target["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    assert scaled["minReplicaCount"] == 0  # no search runs: no worker
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "metrics-api" and trigger["metadata"]["authMode"] == "bearer"
    url = urlsplit(trigger["metadata"]["url"])
    service = one(rendered, "Service", "caviar-server")
    namespace = service["metadata"]["namespace"]
    assert url.hostname == f"{service['metadata']['name']}.{namespace}.svc"  # from KEDA's own
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.path in routes(app_client)
    # The scaler's token may read the route, and the JSON holds a number where it looks.
    auth = one(rendered, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    [secret] = auth["spec"]["secretTargetRef"]
    assert secret["parameter"] == "token"
    worker = container(rendered, "Deployment", "caviar-worker")
    token_env = next(env for env in worker["env"] if env["name"] == "CAVIAR_TOKEN")
    assert token_env["valueFrom"]["secretKeyRef"] == {"name": secret["name"],
                                                      "key": secret["key"]}
    token = create_token(app_client.app.state.db, "keda", Role.WORKER)[1]  # type: ignore[attr-defined]
    answer = app_client.get(url.path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    value = answer.json()
    for key in trigger["metadata"]["valueLocation"].split("."):
        value = value[key]
    assert isinstance(value, int)
    assert float(trigger["metadata"]["targetValue"]) == 1  # one trial a worker


# --- images, users, secrets, resources --------------------------------------------------------

def test_images_and_users_are_the_dockerfile_s(rendered):
    image = dockerfile()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    ours = caviar_containers(rendered)
    assert len(ours) == 3  # the server, the migrate Job, the worker
    assert {split_image(c["image"])[1] for c in ours} == {version}
    uid = image["uids"][image["user"]]
    for item in rendered:
        for spec in pod_specs(item):
            if any(c in ours for c in spec["containers"]):
                assert spec["securityContext"]["runAsUser"] == uid, item["metadata"]["name"]


def test_secrets_are_referenced_never_written(rendered):
    assert not [item for item in rendered if item["kind"] == "Secret"]
    text = yaml.safe_dump_all(rendered)
    assert "cvr_" not in text  # a Caviar token
    assert not re.search(r"postgres(ql)?(\+\w+)?://", text)  # a database URL, its password
    referenced = set()
    for item in rendered:
        for c in containers(item):
            for env in c.get("env", []):
                if env["name"] in SECRET_ENV:
                    assert "value" not in env, (c["name"], env["name"])
                    assert env["valueFrom"]["secretKeyRef"]["name"]
                    referenced.add(env["name"])
    assert {"CAVIAR_DATABASE_URL", "CAVIAR_TOKEN"} <= referenced


def test_every_container_is_unprivileged_and_sized(rendered):
    for item in rendered:
        for spec in pod_specs(item):
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["automountServiceAccountToken"] is False
            for c in spec.get("initContainers", []) + spec["containers"]:
                context = c["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, c["name"]
                assert context["readOnlyRootFilesystem"] is True, c["name"]
                assert context["capabilities"]["drop"] == ["ALL"], c["name"]
                assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
                assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]
