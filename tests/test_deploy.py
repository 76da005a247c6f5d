"""The deployment recipes in deploy/ parse, and keep the promises deploy/README.md makes."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from orchestrator.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})
SECRET_LIKE = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL", re.IGNORECASE)
DATA_DIR = "/var/lib/orchestrator"


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s(kind: str, name: str) -> dict[str, Any]:
    for path in KUBERNETES.glob("*.yaml"):
        for doc in load_docs(path):
            if doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind}/{name} under deploy/kubernetes")


def compose() -> dict[str, Any]:
    return load_docs(DEPLOY / "compose.yaml")[0]


def env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def unit_directives(path: Path) -> list[tuple[str, str, str]]:
    """Return (section, key, value) for every directive, keeping repeated keys."""
    section, found = "", []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs with continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Deployment", k8s("Deployment", "orchestrator")["spec"]["template"]["spec"]),
        ("Job", k8s("Job", "orchestrator-migrate")["spec"]["template"]["spec"]),
    ]


# --------------------------------------------------------------------------- every file


def test_there_are_recipes_to_check():
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}

    assert {"compose.yaml", "kubernetes/deployment.yaml", "kubernetes/kustomization.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_file_parses_to_mappings(path):
    docs = load_docs(path)

    assert docs
    assert all(isinstance(doc, dict) for doc in docs)


# --------------------------------------------------------------------------- kubernetes


def test_kustomization_lists_real_files_and_never_the_secret_example():
    kustomization = load_docs(KUBERNETES / "kustomization.yaml")[0]
    resources = kustomization["resources"]

    assert [r for r in resources if not (KUBERNETES / r).is_file()] == []
    assert "secret.example.yaml" not in resources
    assert {"deployment.yaml", "migrate-job.yaml", "service.yaml", "pdb.yaml"} <= set(resources)


def test_deployment_is_ready_on_readyz_and_alive_on_healthz():
    container = k8s("Deployment", "orchestrator")["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["port"] in port_names
    assert container["livenessProbe"]["httpGet"]["port"] in port_names
    assert container["command"] == ["orchestrator", "serve"]
    assert container["resources"]["limits"]["memory"]


def test_deployment_runs_three_replicas_covered_by_service_and_budget():
    deployment = k8s("Deployment", "orchestrator")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container_ports = {
        port["name"] for port in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    service = k8s("Service", "orchestrator")
    budget = k8s("PodDisruptionBudget", "orchestrator")

    assert deployment["spec"]["replicas"] == 3
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    # The migration Job's pods must not be taken for web replicas.
    job_labels = k8s("Job", "orchestrator-migrate")["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= job_labels.items()


def test_migration_job_runs_migrate_once():
    job = k8s("Job", "orchestrator-migrate")
    container = job["spec"]["template"]["spec"]["containers"][0]

    assert container["command"] == ["orchestrator", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("kind, spec", pod_specs(), ids=["Deployment", "Job"])
def test_pods_run_as_non_root_on_a_read_only_root(kind, spec):
    volumes = {volume["name"]: volume for volume in spec["volumes"]}

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    for container in spec["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert "emptyDir" in mounts["/tmp"]
        assert "emptyDir" in mounts[DATA_DIR]


def test_kubernetes_data_dir_is_the_mounted_one():
    config = k8s("ConfigMap", "orchestrator-config")["data"]

    assert config["ORCH_DATA_DIR"] == DATA_DIR
    assert config["ORCH_HOST"] == "0.0.0.0"


# --------------------------------------------------------------------------- secrets


def secret_manifests() -> list[dict[str, Any]]:
    return [doc for path in YAML_FILES for doc in load_docs(path) if doc.get("kind") == "Secret"]


def test_secret_manifests_hold_only_placeholders():
    secrets = secret_manifests()

    assert secrets
    for secret in secrets:
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values
        assert {k: v for k, v in values.items() if "change-me" not in str(v)} == {}


def test_config_maps_and_pod_env_hold_no_secrets():
    config = k8s("ConfigMap", "orchestrator-config")["data"]

    assert [key for key in config if SECRET_LIKE.search(key)] == []
    for _, spec in pod_specs():
        for container in spec["containers"]:
            literal = [e["name"] for e in container.get("env", []) if "value" in e]
            assert [name for name in literal if SECRET_LIKE.search(name)] == []


def test_env_example_holds_only_placeholder_secrets():
    example = env_file(DEPLOY / "orchestrator.env.example")
    secret_values = {k: v for k, v in example.items() if SECRET_LIKE.search(k)}

    assert "ORCH_SECRET_KEY" in secret_values
    assert {k: v for k, v in secret_values.items() if "change-me" not in v} == {}


def test_placeholder_secret_keys_are_refused_in_production():
    placeholders = [
        env_file(DEPLOY / "orchestrator.env.example")["ORCH_SECRET_KEY"],
        *(s["stringData"]["ORCH_SECRET_KEY"] for s in secret_manifests()),
    ]

    for placeholder in placeholders:
        with pytest.raises(ValidationError, match="ORCH_SECRET_KEY"):
            Settings(env="production", secret_key=placeholder)


def deploy_setting_names() -> set[str]:
    names = set(env_file(DEPLOY / "orchestrator.env.example"))
    names |= set(k8s("ConfigMap", "orchestrator-config")["data"])
    for secret in secret_manifests():
        names |= set(secret["stringData"])
    for service in compose()["services"].values():
        names |= set(service.get("environment", {}))
    for section, key, value in unit_directives(DEPLOY / "orchestrator.service"):
        if section == "Service" and key == "Environment":
            names.add(value.split("=", 1)[0])
    return {name for name in names if name.startswith("ORCH_")}


def test_every_setting_named_in_deploy_is_one_the_service_reads():
    prefix = Settings.model_config.get("env_prefix", "")
    known = {(prefix + field).upper() for field in Settings.model_fields}

    assert sorted(deploy_setting_names() - known) == []


def test_compose_and_kubernetes_name_their_proxy_as_trusted(monkeypatch):
    """Behind Caddy or an ingress, callers are told apart by X-Forwarded-For (ratelimit)."""
    web = compose()["services"]["orchestrator"]["environment"]
    config = k8s("ConfigMap", "orchestrator-config")["data"]
    for value in (web["ORCH_TRUSTED_PROXIES"], config["ORCH_TRUSTED_PROXIES"]):
        monkeypatch.setenv("ORCH_TRUSTED_PROXIES", value)
        trusted = Settings().trusted_proxies
        assert trusted and all(ipaddress.ip_network(net).is_private for net in trusted)


# --------------------------------------------------------------------------- compose


def test_compose_waits_for_healthy_postgres_then_migrates_then_serves():
    services = compose()["services"]
    postgres, migrate, web = services["postgres"], services["migrate"], services["orchestrator"]

    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert migrate["command"] == ["orchestrator", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["command"] == ["orchestrator", "serve"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["deploy"]["replicas"] >= 2


def test_compose_builds_from_the_repo_root_with_the_example_env_file():
    web = compose()["services"]["orchestrator"]

    assert (DEPLOY / web["build"]["context"] / web["build"]["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    )
    assert (DEPLOY / (web["env_file"] + ".example")).is_file()
    assert web["environment"]["ORCH_DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_compose_has_no_literal_passwords():
    for name, service in compose()["services"].items():
        for key, value in service.get("environment", {}).items():
            if SECRET_LIKE.search(key):
                assert "${POSTGRES_PASSWORD" in str(value), f"{name}.{key} is a literal"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_orchestrator_serve_as_non_root():
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    final_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    users = [args for word, args in final_stage if word == "USER"]
    cmd = [args for word, args in final_stage if word == "CMD"][-1]
    healthcheck = " ".join(args for word, args in final_stage if word == "HEALTHCHECK")

    assert final_stage[0][1].startswith("python:3.11-slim")
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert json.loads(cmd) == ["orchestrator", "serve"]
    assert "/healthz" in healthcheck and "urllib" in healthcheck
    assert ("EXPOSE", "8080") in final_stage


def test_every_deployment_runs_in_production_mode_so_dev_tools_do_not_exist():
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    final_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    image_env = " ".join(args for word, args in final_stage if word == "ENV").split()
    unit = unit_directives(DEPLOY / "orchestrator.service")

    assert "ORCH_ENV=production" in image_env
    assert ("Service", "Environment", "ORCH_ENV=production") in unit
    assert k8s("ConfigMap", "orchestrator-config")["data"]["ORCH_ENV"] == "production"
    assert env_file(DEPLOY / "orchestrator.env.example")["ORCH_ENV"] == "production"


def test_dockerfile_copies_only_files_that_exist_and_no_dev_extras():
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    sources = [
        src
        for word, args in instructions
        if word == "COPY" and not args.startswith("--from")
        for src in shlex.split(args)[:-1]
    ]

    assert sources
    assert [src for src in sources if not (ROOT / src).exists()] == []
    installs = " ".join(args for word, args in instructions if word == "RUN" and "pip" in args)
    assert "install ." in installs
    assert "[test" not in installs and "[dev" not in installs


# --------------------------------------------------------------------------- systemd


def test_systemd_unit_migrates_before_serving_as_a_dedicated_user():
    directives = unit_directives(DEPLOY / "orchestrator.service")
    service = {key: value for section, key, value in directives if section == "Service"}
    pre = [value for section, key, value in directives if key == "ExecStartPre"]

    assert any(value.endswith("orchestrator migrate") for value in pre)
    assert service["ExecStart"].endswith("orchestrator serve")
    assert service["User"] not in {"root", "0"}
    assert service["EnvironmentFile"] == "/etc/orchestrator/orchestrator.env"


def test_systemd_unit_is_sandboxed_with_only_the_data_dir_writable():
    service = {
        key: value
        for section, key, value in unit_directives(DEPLOY / "orchestrator.service")
        if section == "Service"
    }

    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    assert service["ReadWritePaths"] == DATA_DIR
    assert service["CapabilityBoundingSet"] == ""
