"""The deployment files (docker-compose.yml, deploy/) agree with the code they run.

No Docker engine and no cluster: the Compose file is checked with `docker-compose config`
(Debian's `docker-compose` package parses without an engine), the built-in Kubernetes kinds
with kubernetes-validate (strict), the KEDA objects by hand. Beyond syntax, every
environment variable they set must be a setting read by upscaler_platform/settings.py, the
queues workers consume must be the Celery app's queues, and so on.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS_FILE = REPO / "upscaler_platform" / "settings.py"
WEB_DOCKERFILE = DEPLOY / "Dockerfile.web"
WORKER_DOCKERFILE = DEPLOY / "Dockerfile.worker"
LOCAL_OVERRIDE = DEPLOY / "compose.local.yml"
SERVICES_DOCKERFILE = DEPLOY / "local" / "Dockerfile.services"

# Variables Compose must be given (the `${NAME:?…}` ones), with throwaway values.
COMPOSE_REQUIRED = {
    "SECRET_KEY": "test-secret",
    "POSTGRES_PASSWORD": "pg-secret",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "S3_SECRET_KEY": "s3-secret",
    "FLOWER_PASSWORD": "flower-secret",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# --- What the code expects ----------------------------------------------------------------

ENV_HELPERS = {"env_str", "env_int", "env_bool", "env_float", "env_list"}
# Helpers that go through env_str, so NAME_FILE works for them too.
FILE_AWARE_HELPERS = {"env_str", "env_list"}


def env_names_read(source: str) -> tuple[set[str], set[str]]:
    """(names read, names that also accept NAME_FILE) by env_* helpers and os.environ/getenv
    calls with a literal name in a Python source."""
    names: set[str] = set()
    file_aware: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if fname in ENV_HELPERS:
                names.add(first.value)
                if fname in FILE_AWARE_HELPERS:
                    file_aware.add(first.value)
            elif fname == "getenv" or (
                fname in ("get", "pop") and isinstance(func, ast.Attribute) and _is_os_environ(func.value)
            ):
                names.add(first.value)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names, file_aware


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def settings_env_names() -> set[str]:
    """Every environment variable name settings.py reads, plus NAME_FILE where supported."""
    names, file_aware = env_names_read(SETTINGS_FILE.read_text())
    return names | {f"{name}_FILE" for name in file_aware}


def celery_queues() -> set[str]:
    from upscaler_platform.celery import app

    return {queue.name for queue in app.conf.task_queues}


def queue_constants():
    from django.conf import settings

    return settings.INFERENCE_QUEUE, settings.WEBHOOKS_QUEUE, settings.MAINTENANCE_QUEUE


def parse_celery(command) -> dict | None:
    """The options of a `celery -A upscaler_platform worker|beat …` command line, or None."""
    if isinstance(command, str):
        command = command.split()
    command = list(command or [])
    if not command or Path(command[0]).name != "celery":
        return None
    aliases = {
        "-A": "app",
        "--app": "app",
        "-Q": "queues",
        "--queues": "queues",
        "-c": "concurrency",
        "--concurrency": "concurrency",
        "-P": "pool",
        "--pool": "pool",
        "--prefetch-multiplier": "prefetch",
        "-n": "hostname",
        "--hostname": "hostname",
        "-b": "broker",
        "--broker": "broker",
    }
    opts: dict = {"positional": []}
    args = command[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        key, value = arg, None
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
        if key in aliases:
            if value is None:
                i += 1
                value = args[i]
            opts[aliases[key]] = value
        elif not arg.startswith("-"):
            opts["positional"].append(arg)
        i += 1
    opts["subcommand"] = opts["positional"][0] if opts["positional"] else None
    opts["queue_set"] = {q for q in opts.get("queues", "").split(",") if q}
    return opts


# --- The Compose file -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    """Services running our images (the others are Postgres, Redis, MinIO, Flower)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if str(svc.get("build", {}).get("dockerfile", "")).startswith("deploy/")
    }


def dockerfile_of(service: dict) -> str:
    return service["build"]["dockerfile"]


def find_compose_tool() -> list[str]:
    path = shutil.which("docker-compose")
    if path:
        return [path]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    message = "docker-compose is not installed (apt-get install docker-compose)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def run_compose_config(
    tmp_path: Path, env: dict[str, str], *extra: str, files: tuple[Path, ...] = (COMPOSE_FILE,)
) -> subprocess.CompletedProcess:
    """`docker-compose config` in a clean environment: no .env and no shell variables leak in."""
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}
    return subprocess.run(
        [
            *find_compose_tool(),
            "--project-directory",
            str(REPO),
            *[arg for path in files for arg in ("-f", str(path))],
            "--env-file",
            str(empty_env_file),
            "config",
            *extra,
        ],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_is_valid_for_docker_compose(tmp_path):
    out = run_compose_config(tmp_path, COMPOSE_REQUIRED)
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load(out.stdout)
    services = resolved["services"]
    # After Compose's own normalisation the GPU request is still there, and the anchors
    # gave every app service the interpolated settings.
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert services["web"]["environment"]["SECRET_KEY"] == COMPOSE_REQUIRED["SECRET_KEY"]
    assert services["web"]["environment"]["DATABASE_URL"] == (
        f"postgres://upscaler:{COMPOSE_REQUIRED['POSTGRES_PASSWORD']}@postgres:5432/upscaler"
    )
    assert services["worker"]["environment"]["AWS_SECRET_ACCESS_KEY"] == COMPOSE_REQUIRED["S3_SECRET_KEY"]


@pytest.mark.parametrize("missing", sorted(COMPOSE_REQUIRED))
def test_compose_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {k: v for k, v in COMPOSE_REQUIRED.items() if k != missing}
    out = run_compose_config(tmp_path, env, "-q")
    assert out.returncode != 0
    assert missing in out.stderr


def test_compose_app_env_is_made_of_settings_and_shared(compose):
    settings_names = settings_env_names()
    services = app_services(compose)
    assert {"web", "worker", "worker-cpu", "webhooks", "beat", "migrate"} <= set(services)
    envs = {}
    for name, svc in services.items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form with the x-common-env anchor"
        unknown = set(env) - settings_names
        assert not unknown, f"{name} sets {sorted(unknown)}, which settings.py never reads"
        envs[name] = env
    # One shared anchor: every app service sees the same settings.
    reference = envs["web"]
    for name, env in envs.items():
        assert env == reference, f"{name}'s environment differs from web's"
    for required in (
        "DATABASE_URL",
        "REDIS_URL",
        "STORAGE_BACKEND",
        "SECRET_KEY",
        "UPSCALER_MODEL_DIR",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_S3_ENDPOINT_URL",
        "ALLOWED_HOSTS",
        "PUBLIC_BASE_URL",
    ):
        assert required in reference
    assert reference["STORAGE_BACKEND"] == "s3"
    assert reference["REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in reference["DATABASE_URL"]


def compose_workers(compose: dict, default_profile_only: bool = False) -> dict[str, dict]:
    workers = {}
    for name, svc in app_services(compose).items():
        if default_profile_only and svc.get("profiles"):
            continue
        opts = parse_celery(svc.get("command"))
        if opts and opts["subcommand"] == "worker":
            workers[name] = opts
    return workers


def test_compose_workers_consume_the_celery_queues(compose):
    inference, webhooks, maintenance = queue_constants()
    queues = celery_queues()
    assert {inference, webhooks, maintenance} <= queues
    workers = compose_workers(compose)
    for name, opts in workers.items():
        assert opts["app"] == "upscaler_platform", name
        assert opts["queue_set"], f"{name} names no queue: it would consume the default one only"
        assert opts["queue_set"] <= queues, f"{name} consumes unknown queues {opts['queue_set'] - queues}"
    consumed = set().union(*(o["queue_set"] for o in compose_workers(compose, default_profile_only=True).values()))
    assert consumed == queues, f"queues nobody consumes by default: {queues - consumed}"

    services = compose["services"]
    gpu = workers["worker"]
    assert gpu["queue_set"] == {inference}
    assert gpu["concurrency"] == "1" and gpu["prefetch"] == "1"
    assert dockerfile_of(services["worker"]) == "deploy/Dockerfile.worker"

    cpu = workers["worker-cpu"]
    assert "cpu" in services["worker-cpu"].get("profiles", [])
    assert cpu["queue_set"] == {inference} and cpu["concurrency"] == "1" and cpu["prefetch"] == "1"
    assert "deploy" not in services["worker-cpu"], "the CPU fallback must not reserve a GPU"

    hooks = [o for o in workers.values() if o["queue_set"] == {webhooks}]
    assert hooks and all(o.get("pool") == "threads" and int(o.get("concurrency", 0)) >= 8 for o in hooks)

    # Only the worker image has torch: the web image must never consume `inference`.
    for name, opts in workers.items():
        if inference in opts["queue_set"]:
            assert dockerfile_of(services[name]) == "deploy/Dockerfile.worker", name
        else:
            assert dockerfile_of(services[name]) == "deploy/Dockerfile.web", name

    beats = [
        n
        for n, s in app_services(compose).items()
        if (parse_celery(s.get("command")) or {}).get("subcommand") == "beat"
    ]
    assert beats == ["beat"], "exactly one beat"
    assert not any(
        o.get("subcommand") == "worker" and "--beat" in str(services[n]["command"]) for n, o in workers.items()
    )


def reservations(service: dict) -> list[dict]:
    return service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])


def test_compose_gpu_worker_reserves_an_nvidia_gpu(compose):
    devices = reservations(compose["services"]["worker"])
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    for name, svc in app_services(compose).items():
        if name != "worker":
            assert not reservations(svc), f"{name} should not hold a GPU"


def test_compose_web_runs_gunicorn_on_the_wsgi_module(compose):
    web = compose["services"]["web"]
    command = web["command"]
    assert Path(command[0]).name == "gunicorn"
    target = next(arg for arg in command[1:] if not arg.startswith("-"))
    assert_wsgi_target(target)
    assert dockerfile_of(web) == "deploy/Dockerfile.web"
    migrate = compose["services"]["migrate"]
    assert migrate["command"][:3] == ["python", "manage.py", "migrate"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def assert_wsgi_target(target: str) -> None:
    module, _, attr = target.partition(":")
    path = REPO / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"gunicorn target {module} does not exist"
    assigned = {
        t.id
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert (attr or "application") in assigned


def test_compose_models_volume(compose):
    services = compose["services"]
    model_dir = services["web"]["environment"]["UPSCALER_MODEL_DIR"]
    assert "models" in compose["volumes"]

    def mount(svc):
        for spec in svc.get("volumes", []):
            parts = spec.split(":")
            if parts[0] == "models":
                return parts[1], parts[2:] == ["ro"]
        return None

    assert mount(services["web"]) == (model_dir, True), "web needs the models read-only"
    for name in ("worker", "worker-cpu"):
        assert mount(services[name]) == (model_dir, False), f"{name} needs the models (fetch_models writes)"


def test_compose_backing_services_are_healthchecked_and_awaited(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "minio"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, svc in app_services(compose).items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        assert deps.get("postgres", {}).get("condition") == "service_healthy", name
        if name != "migrate":
            assert deps.get("redis", {}).get("condition") == "service_healthy", name
            assert deps.get("minio-init", {}).get("condition") == "service_completed_successfully", name
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    # The init service creates the bucket the app is configured with, with the app's key.
    assert init["environment"]["S3_BUCKET"] == services["web"]["environment"]["AWS_STORAGE_BUCKET_NAME"]
    assert init["environment"]["S3_ACCESS_KEY"] == services["web"]["environment"]["AWS_ACCESS_KEY_ID"]
    assert init["environment"]["S3_SECRET_KEY"] == services["web"]["environment"]["AWS_SECRET_ACCESS_KEY"]
    script_mount = next(v for v in init["volumes"] if v.endswith("/minio-init.sh:ro"))
    script = (REPO / script_mount.split(":")[0]).read_text()
    assert 'mc mb --ignore-existing "local/$S3_BUCKET"' in script
    assert "$S3_ACCESS_KEY" in script
    # MinIO answers to the public S3 host too, so presigned URLs work inside and out.
    endpoint = services["web"]["environment"]["AWS_S3_ENDPOINT_URL"]
    host = urlparse(endpoint.replace("${S3_PUBLIC_HOST:-minio}", "S3HOST")).hostname
    assert host == "s3host" and "${S3_PUBLIC_HOST:-minio}" in services["minio"]["networks"]["default"]["aliases"]


# --- Dockerfiles ----------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not current:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current:
            lines.append(current)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def pip_installs(path: Path) -> list[str]:
    runs = [args for instr, args in dockerfile_instructions(path) if instr == "RUN"]
    return [part.strip() for run in runs for part in re.split(r"&&|;", run) if "pip install" in part]


def project_packages() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        p.name
        for p in REPO.iterdir()
        if (p / "__init__.py").is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
    )


def test_web_image_has_no_torch():
    installs = pip_installs(WEB_DOCKERFILE)
    assert any(re.search(r"pip install( \S+)* \.$", cmd) for cmd in installs), installs
    for cmd in installs:
        assert "worker" not in cmd and "torch" not in cmd, cmd
    text = WEB_DOCKERFILE.read_text()
    assert "optional-dependencies" not in text, "the web image must only install the base dependencies"
    assert base_images(WEB_DOCKERFILE) == ["python:3.11-slim"]
    # …which holds only if the base dependencies themselves carry no torch.
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if re.match(r"(torch|torchvision|spandrel)\b", d)]


def base_images(path: Path) -> list[str]:
    """The FROM images with the build arguments' defaults filled in."""
    args, froms = {}, []
    for instr, rest in dockerfile_instructions(path):
        if instr == "ARG" and "=" in rest:
            name, default = rest.split("=", 1)
            args[name] = default
        elif instr == "FROM":
            froms.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0]))
    return froms


@pytest.mark.parametrize("dockerfile", [WEB_DOCKERFILE, WORKER_DOCKERFILE], ids=lambda p: p.name)
def test_images_take_their_base_and_wheelhouse_as_build_arguments(dockerfile):
    # Operators get the official slim image; `make compose-up` passes a local Debian base.
    assert base_images(dockerfile) == ["python:3.11-slim"]
    instructions = dockerfile_instructions(dockerfile)
    assert instructions[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    assert ("ARG", "WHEELHOUSE=") in instructions
    # Empty by default (PyPI); every pip install honours it when set.
    installs = pip_installs(dockerfile)
    assert installs and all('${WHEELHOUSE:+--no-index --find-links "$WHEELHOUSE"}' in cmd for cmd in installs)


def test_worker_image_installs_the_worker_extra():
    installs = pip_installs(WORKER_DOCKERFILE)
    assert any(".[worker]" in cmd for cmd in installs), installs
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("torch") for d in extras["worker"])


@pytest.mark.parametrize("dockerfile", [WEB_DOCKERFILE, WORKER_DOCKERFILE], ids=lambda p: p.name)
def test_images_copy_every_package(dockerfile):
    copied = set()
    for instr, args in dockerfile_instructions(dockerfile):
        if instr == "COPY" and "--from" not in args:
            copied.update(a.rstrip("/") for a in args.split()[:-1])
    missing = set(project_packages() + ["manage.py", "pyproject.toml"]) - copied
    assert not missing, f"{dockerfile.name} does not copy {sorted(missing)}"
    users = [args for instr, args in dockerfile_instructions(dockerfile) if instr == "USER"]
    assert users and users[-1] not in ("root", "0"), "run as an unprivileged user"


# --- The test override (deploy/compose.local.yml) ------------------------------------------

LOCAL_ENV = {**COMPOSE_REQUIRED, "LOCAL_MODEL_DIR": str(REPO)}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory) -> dict:
    """docker-compose.yml merged with the override, as `make compose-up` runs it."""
    out = run_compose_config(
        tmp_path_factory.mktemp("local"),
        {**LOCAL_ENV, "PORT": "18000"},
        files=(COMPOSE_FILE, LOCAL_OVERRIDE),
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def running_services(resolved: dict) -> dict[str, dict]:
    """The services `up --profile cpu` starts containers for."""
    return {
        name: svc
        for name, svc in resolved["services"].items()
        if svc.get("scale", 1) > 0 and set(svc.get("profiles", ["cpu"])) & {"cpu"}
    }


def test_local_stack_runs_everything_on_the_host_network(local_stack):
    running = running_services(local_stack)
    assert set(running) == {
        "postgres",
        "redis",
        "s3",
        "minio-init",
        "migrate",
        "web",
        "worker-cpu",
        "webhooks",
        "maintenance",
        "beat",
    }
    for name, svc in running.items():
        assert svc.get("network_mode") == "host", name
        assert "networks" not in svc, name
        if "build" in svc:
            assert svc["build"].get("network") == "host", f"{name} builds off the host network"
    # Compose creates no network: the only one declared is the engine's own host network.
    assert local_stack["networks"] == {"default": {"external": True, "name": "host"}}
    assert local_stack["services"]["minio"]["scale"] == 0


def test_local_stack_keeps_every_address_on_loopback(local_stack):
    running = running_services(local_stack)
    env = running["web"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_S3_ENDPOINT_URL", "PUBLIC_BASE_URL"):
        assert urlparse(env[name]).hostname == "127.0.0.1", (name, env[name])
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:18000"
    assert "--bind=127.0.0.1:18000" in running["web"]["command"]
    assert any("127.0.0.1" in arg for arg in running["redis"]["command"])
    assert any("127.0.0.1" in arg for arg in running["s3"]["command"])
    assert any("127.0.0.1" in arg for arg in running["postgres"]["healthcheck"]["test"])
    assert running["minio-init"]["environment"]["S3_ENDPOINT_URL"] == env["AWS_S3_ENDPOINT_URL"]
    assert running["minio-init"]["depends_on"]["s3"]["condition"] == "service_healthy"


def test_local_stack_env_is_made_of_settings_and_shared(local_stack):
    settings_names = settings_env_names()
    running = running_services(local_stack)
    apps = {n: s for n, s in running.items() if str(s.get("build", {}).get("dockerfile", "")).startswith("deploy/D")}
    assert set(apps) == {"migrate", "web", "worker-cpu", "webhooks", "maintenance", "beat"}
    for name, svc in apps.items():
        assert svc["environment"] == apps["web"]["environment"], name
        assert set(svc["environment"]) <= settings_names, name
        assert svc["build"]["args"]["BASE_IMAGE"] == "upscaler-python:3.11-bookworm"
    # Tests only, and only when asked.
    assert apps["web"]["environment"]["UPSCALER_ALLOW_PRIVATE_URLS"] == "false"


def test_local_stack_uses_no_registry_image(local_stack):
    for name, svc in running_services(local_stack).items():
        assert "build" in svc, f"{name} would be pulled from a registry"
        assert not re.match(r"[\w.-]+\.[a-z]+/", svc["image"]), (name, svc["image"])


def test_local_stack_mounts_the_models_read_only(local_stack):
    running = running_services(local_stack)
    for name in ("web", "worker-cpu"):
        assert "models:/models:ro" in running[name]["volumes"], name
    volume = local_stack["volumes"]["models"]
    assert volume["driver_opts"] == {"type": "none", "o": "bind", "device": str(REPO)}


def test_resolve_drops_only_the_ports_docker_compose_1_refuses(local_stack):
    # What deploy/local/compose.sh hands to docker-compose: published ports are refused
    # with the host network by its client (the engine would ignore them); nothing else moves.
    resolved = copy.deepcopy(local_stack)
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "local" / "resolve.py")],
        input=yaml.safe_dump(resolved),
        capture_output=True,
        text=True,
        check=True,
    )
    after = yaml.safe_load(out.stdout)
    assert local_stack["services"]["web"]["ports"], "the production web publishes its port"
    for name, svc in after["services"].items():
        before = dict(local_stack["services"][name])
        if svc.get("network_mode") == "host":
            assert "ports" not in svc, name
            before.pop("ports", None)
        assert svc == before, name
    assert after["services"]["minio"]["ports"] == local_stack["services"]["minio"]["ports"]
    assert {k: v for k, v in after.items() if k != "services"} == {
        k: v for k, v in local_stack.items() if k != "services"
    }


def test_the_override_changes_nothing_for_operators(compose):
    # The production file alone: registry images, its own network, the GPU worker on.
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["minio"]["image"].startswith("quay.io/minio/")
    assert not any("network_mode" in svc for svc in services.values())
    assert "profiles" not in services["worker"]


def test_the_s3_stand_in_runs_the_tests_moto():
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    moto = [d for d in pinned if d.startswith("moto")]
    assert ("ARG", f"MOTO={moto[0]}") in dockerfile_instructions(SERVICES_DOCKERFILE)
    assert base_images(SERVICES_DOCKERFILE) == ["upscaler-python:3.11-bookworm"]


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def manifests(kustomization) -> list[dict]:
    docs = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def by_kind(manifests, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests if d["kind"] == kind}


def is_crd(doc: dict) -> bool:
    return doc["apiVersion"].split("/")[0].endswith("keda.sh")


def validation_versions() -> list[str]:
    import kubernetes_validate
    from kubernetes_validate.utils import all_versions

    versions = {kubernetes_validate.latest_version()}
    versions.update(v for v in all_versions() if v == "1.29.0")
    return sorted(versions)


def kubernetes_validate_module():
    try:
        import kubernetes_validate
    except ImportError:
        message = "kubernetes-validate is not installed (pip install kubernetes-validate)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return kubernetes_validate


def test_kustomization_lists_every_manifest(kustomization):
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)


def test_builtin_kinds_pass_strict_schema_validation(manifests):
    kv = kubernetes_validate_module()
    builtin = [d for d in manifests if not is_crd(d)]
    kinds = {d["kind"] for d in builtin}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Job"} <= kinds
    for version in validation_versions():
        for doc in builtin:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (k8s {version}): {exc.message}")


def test_strict_validation_rejects_a_broken_deployment(manifests):
    kv = kubernetes_validate_module()
    broken = copy.deepcopy(by_kind(manifests, "Deployment")["upscaler-web"])
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)
    broken = copy.deepcopy(by_kind(manifests, "Deployment")["upscaler-web"])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


def test_everything_lives_in_the_namespace(manifests, kustomization):
    namespaces = by_kind(manifests, "Namespace")
    assert list(namespaces) == [kustomization["namespace"]]
    for doc in manifests:
        if doc["kind"] != "Namespace":
            name = doc["metadata"]["name"]
            assert doc["metadata"].get("namespace") == kustomization["namespace"], name


def pod_specs(manifests) -> dict[str, dict]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for d in manifests
        if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    }


def test_k8s_env_is_made_of_settings_and_matches_compose(manifests, compose):
    settings_names = settings_env_names()
    configmaps, secrets = by_kind(manifests, "ConfigMap"), by_kind(manifests, "Secret")
    referenced: set[tuple[str, str]] = set()
    for where, spec in pod_specs(manifests).items():
        for container in spec["containers"] + spec.get("initContainers", []):
            refs = container.get("envFrom", [])
            assert refs, f"{where}: no settings injected"
            for ref in refs:
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in configmaps, where
                    referenced.add(("ConfigMap", ref["configMapRef"]["name"]))
                if "secretRef" in ref:
                    assert ref["secretRef"]["name"] in secrets, where
                    referenced.add(("Secret", ref["secretRef"]["name"]))
            unknown = {e["name"] for e in container.get("env", [])} - settings_names
            assert not unknown, f"{where} sets {sorted(unknown)}, which settings.py never reads"
    names: set[str] = set()
    for kind, name in referenced:
        doc = (configmaps if kind == "ConfigMap" else secrets)[name]
        keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
        unknown = keys - settings_names
        assert not unknown, f"{kind}/{name} sets {sorted(unknown)}, which settings.py never reads"
        names |= keys
    assert {("ConfigMap", "upscaler-config"), ("Secret", "upscaler-secrets")} <= referenced
    compose_env = set(compose["services"]["web"]["environment"])
    assert names == compose_env, (
        f"only in k8s: {sorted(names - compose_env)}; only in compose: {sorted(compose_env - names)}"
    )
    secret = secrets["upscaler-secrets"]["stringData"]
    for sensitive in ("SECRET_KEY", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY"):
        assert sensitive in secret, f"{sensitive} belongs in the Secret"
    assert configmaps["upscaler-config"]["data"]["STORAGE_BACKEND"] == "s3"


def deployment_celery(manifests) -> dict[str, dict]:
    found = {}
    for name, dep in by_kind(manifests, "Deployment").items():
        containers = dep["spec"]["template"]["spec"]["containers"]
        opts = parse_celery(containers[0].get("command", []) + containers[0].get("args", []))
        if opts:
            found[name] = opts
    return found


def test_k8s_workers_consume_the_celery_queues(manifests):
    inference, webhooks, maintenance = queue_constants()
    queues = celery_queues()
    deployments = by_kind(manifests, "Deployment")
    celery = deployment_celery(manifests)
    workers = {n: o for n, o in celery.items() if o["subcommand"] == "worker"}
    consumed = set().union(*(o["queue_set"] for o in workers.values()))
    assert consumed == queues, f"queues nobody consumes: {queues - consumed}"
    for name, opts in workers.items():
        assert opts["app"] == "upscaler_platform" and opts["queue_set"] <= queues, name
        image = deployments[name]["spec"]["template"]["spec"]["containers"][0]["image"]
        expected = "upscaler-platform-worker" if inference in opts["queue_set"] else "upscaler-platform-web"
        assert image == expected, f"{name} runs {image}"
    hooks = [o for o in workers.values() if o["queue_set"] == {webhooks}]
    assert hooks and all(o.get("pool") == "threads" for o in hooks)

    beats = [n for n, o in celery.items() if o["subcommand"] == "beat"]
    assert len(beats) == 1
    beat = deployments[beats[0]]["spec"]
    assert beat.get("replicas") == 1 and beat.get("strategy", {}).get("type") == "Recreate"


def gpu_limit(container: dict) -> int:
    return int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


def test_k8s_gpu_workers_request_a_gpu(manifests):
    inference, *_ = queue_constants()
    deployments = by_kind(manifests, "Deployment")
    gpu_workers = [n for n, o in deployment_celery(manifests).items() if inference in o["queue_set"]]
    assert gpu_workers
    for name in gpu_workers:
        spec = deployments[name]["spec"]["template"]["spec"]
        opts = deployment_celery(manifests)[name]
        assert opts["concurrency"] == "1" and opts["prefetch"] == "1", name
        assert gpu_limit(spec["containers"][0]) == 1, f"{name} must request nvidia.com/gpu: 1"
        assert spec.get("nodeSelector") or spec.get("affinity"), f"{name} must target GPU nodes"
        assert any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])), name
    for name, dep in deployments.items():
        if name not in gpu_workers:
            assert not any(gpu_limit(c) for c in dep["spec"]["template"]["spec"]["containers"]), name


def test_k8s_web_and_jobs(manifests):
    deployments = by_kind(manifests, "Deployment")
    web = deployments["upscaler-web"]["spec"]["template"]["spec"]
    command = web["containers"][0]["command"]
    assert Path(command[0]).name == "gunicorn"
    assert_wsgi_target(next(a for a in command[1:] if not a.startswith("-")))
    model_dir = by_kind(manifests, "ConfigMap")["upscaler-config"]["data"]["UPSCALER_MODEL_DIR"]
    mounts = {m["mountPath"]: m for m in web["containers"][0].get("volumeMounts", [])}
    assert mounts.get(model_dir, {}).get("readOnly") is True, "web needs the models read-only"
    services = by_kind(manifests, "Service")
    labels = deployments["upscaler-web"]["spec"]["template"]["metadata"]["labels"]
    selector = services["upscaler-web"]["spec"]["selector"]
    assert selector.items() <= labels.items(), "the Service does not select the web pods"
    jobs = {n: j["spec"]["template"]["spec"]["containers"][0]["command"] for n, j in by_kind(manifests, "Job").items()}
    assert ["python", "manage.py", "migrate", "--noinput"] in jobs.values()
    fetch = [c for c in jobs.values() if c[:3] == ["python", "manage.py", "fetch_models"]]
    assert fetch and (REPO / "jobs" / "management" / "commands" / "fetch_models.py").is_file()
    claims = by_kind(manifests, "PersistentVolumeClaim")
    for where, spec in pod_specs(manifests).items():
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, where


def test_keda_scaled_objects(manifests):
    inference, webhooks, _ = queue_constants()
    deployments = by_kind(manifests, "Deployment")
    celery = deployment_celery(manifests)
    scaled = by_kind(manifests, "ScaledObject")
    trigger_auths = by_kind(manifests, "TriggerAuthentication")
    secrets = by_kind(manifests, "Secret")
    redis_url = urlparse(secrets["upscaler-secrets"]["stringData"]["REDIS_URL"])
    redis_db = redis_url.path.lstrip("/") or "0"
    targets = {}
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1", name
        ref = obj["spec"]["scaleTargetRef"]
        assert ref.get("kind", "Deployment") == "Deployment", name
        target = ref["name"]
        assert target in deployments, f"{name} scales {target}, which is not a Deployment here"
        assert "replicas" not in deployments[target]["spec"], f"KEDA owns {target}'s replicas"
        spec = obj["spec"]
        assert 0 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"], name
        triggers = spec["triggers"]
        assert triggers and all(t["type"] == "redis" for t in triggers), name
        for trigger in triggers:
            meta = trigger["metadata"]
            # The list is the queue the scaled workers consume.
            assert meta["listName"] in celery[target]["queue_set"], name
            assert int(meta["listLength"]) >= 1
            assert meta["address"] == f"{redis_url.hostname}:{redis_url.port or 6379}", (
                f"{name} watches {meta['address']}, but REDIS_URL is {redis_url.netloc}"
            )
            assert meta.get("databaseIndex", "0") == redis_db, name
            auth = trigger.get("authenticationRef")
            if auth:
                assert auth["name"] in trigger_auths, name
                for secret_ref in trigger_auths[auth["name"]]["spec"]["secretTargetRef"]:
                    assert secret_ref["parameter"] in ("password", "username")
                    assert secret_ref["key"] in secrets[secret_ref["name"]].get("stringData", {})
        targets[target] = {t["metadata"]["listName"] for t in triggers}
    gpu_targets = [t for t in targets if inference in celery[t]["queue_set"]]
    assert gpu_targets and all(targets[t] == {inference} for t in gpu_targets)
    assert any(webhooks in lists for lists in targets.values()), "webhook workers are not scaled"


def test_kustomize_builds(tmp_path):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed (optional)")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    images = {
        c["image"]
        for d in docs
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"upscaler-platform-web:latest", "upscaler-platform-worker:latest"}


# --- The web server ----------------------------------------------------------------------------

GUNICORN_CONFIG = "--config=python:upscaler_platform.gunicorn_conf"
# Settings that belong in the config file, where they are chosen together and explained.
CONFIG_FILE_ONLY = ("-k", "--worker-class", "--threads", "-t", "--timeout", "--graceful-timeout")


def web_commands(compose, manifests) -> dict[str, list[str]]:
    from jobs.management.commands.run_embedded import web_command

    cmd = [args for instr, args in dockerfile_instructions(WEB_DOCKERFILE) if instr == "CMD"]
    k8s = by_kind(manifests, "Deployment")["upscaler-web"]["spec"]["template"]["spec"]["containers"][0]
    return {
        "make run": web_command("127.0.0.1", 8000, 2),
        "deploy/Dockerfile.web": yaml.safe_load(cmd[-1]),
        "docker-compose.yml": compose["services"]["web"]["command"],
        "deploy/k8s/web.yaml": k8s["command"],
    }


def test_every_web_server_runs_the_gunicorn_config(compose, manifests):
    for where, command in web_commands(compose, manifests).items():
        assert Path(command[0]).name == "gunicorn", where
        assert GUNICORN_CONFIG in command, f"{where} does not use upscaler_platform/gunicorn_conf.py"
        overridden = [arg for arg in command if arg.split("=", 1)[0] in CONFIG_FILE_ONLY]
        assert not overridden, f"{where} overrides the config file with {overridden}"
        assert_wsgi_target(next(arg for arg in command[1:] if not arg.startswith("-")))


def test_the_gunicorn_config_keeps_threads_free_and_outlasts_requests(compose, manifests):
    from gunicorn.workers.gthread import ThreadWorker

    from jobs.api.server import ThreadWorker as Ours
    from upscaler_platform import gunicorn_conf as conf

    # gunicorn's gthread worker, its own refusals in the APIs' shapes (jobs/api/server.py)
    assert conf.worker_class == "jobs.api.server.ThreadWorker" and issubclass(Ours, ThreadWorker)
    assert conf.threads > conf.THREADS_HELD, "slow requests could take every thread"
    assert conf.timeout > conf.LONGEST_REQUEST_SECONDS and conf.graceful_timeout > conf.LONGEST_REQUEST_SECONDS
    # The platforms wait for gunicorn's graceful stop, and the proxy for the longest request.
    web = by_kind(manifests, "Deployment")["upscaler-web"]["spec"]["template"]["spec"]
    assert web["terminationGracePeriodSeconds"] > conf.graceful_timeout
    grace = re.fullmatch(r"(\d+)s", compose["services"]["web"]["stop_grace_period"])
    assert grace and int(grace.group(1)) > conf.graceful_timeout
    ingress = by_kind(manifests, "Ingress")["upscaler-web"]["metadata"]["annotations"]
    assert int(ingress["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > conf.LONGEST_REQUEST_SECONDS


# --- The checks themselves can fail -----------------------------------------------------------


def test_settings_name_collector():
    names, file_aware = env_names_read(
        "from upscaler_platform.env import env_str, env_int\n"
        "import os\n"
        "A = env_str('ALPHA', '')\nB = env_int('BETA', 1)\nC = os.environ.get('GAMMA')\n"
        "D = os.environ['DELTA']\nE = some_other('EPSILON')\nF = env_str(name_variable)\n"
    )
    assert names == {"ALPHA", "BETA", "GAMMA", "DELTA"}
    assert file_aware == {"ALPHA"}
    real = settings_env_names()
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "AWS_S3_ENDPOINT_URL",
        "UPSCALER_MODEL_DIR",
        "SECRET_KEY_FILE",
    } <= real
    assert "WEB_CONCURRENCY" not in real and "DATABASE_URL_FILE" in real


def test_celery_command_parser():
    opts = parse_celery(["celery", "-A", "upscaler_platform", "worker", "-Q", "a,b", "-c", "3", "-P", "threads"])
    assert opts["subcommand"] == "worker" and opts["queue_set"] == {"a", "b"}
    assert opts["concurrency"] == "3" and opts["pool"] == "threads" and opts["app"] == "upscaler_platform"
    opts = parse_celery(["celery", "--app=x", "beat", "--schedule=/tmp/s"])
    assert opts["subcommand"] == "beat" and opts["app"] == "x" and opts["queue_set"] == set()
    assert parse_celery(["gunicorn", "x.wsgi"]) is None
