"""The Helm chart renders for every values file in deploy/helm/newsstream/ci/, and what it
renders is valid: Kubernetes objects against the Kubernetes schemas (kubernetes-validate,
strict), operator objects against their CRD schemas, every container's environment
against the program's own settings, and the Kafka ACLs against the topics setup creates.

Helm and the CRD schemas come from `deploy/helm/tools.sh` (`make test` runs it).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streams.errors import ConfigError
from streams.kafka.topics import pipeline_topics
from streams.settings import Settings
from tests.unit.test_grafana_dashboard import _metrics, exposed_names, metric_names

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "newsstream"
VALUES = sorted((CHART / "ci").glob("*.yaml"))
VENV = Path(sys.prefix)
CRDS = VENV / "share" / "crds"
STRIMZI_VALIDATOR = Path(__file__).parent / "chart" / "validate_strimzi.mjs"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas.
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")
CRD_FILES = {
    ("keda.sh", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
    ("monitoring.coreos.com", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): (
        "elasticsearch.k8s.elastic.co_elasticsearches.yaml"
    ),
    ("kibana.k8s.elastic.co", "Kibana"): "kibana.k8s.elastic.co_kibanas.yaml",
}
SECRET_PLACEHOLDER = "from-a-secret"


def helm_binary() -> str:
    found = VENV / "bin" / "helm"
    if found.exists():
        return str(found)
    on_path = shutil.which("helm")
    if on_path is None:
        pytest.fail("no helm binary: run `make test` (it runs deploy/helm/tools.sh) first")
    return on_path


def render(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [helm_binary(), "template", "newsstream", str(CHART), "--namespace", "news", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigError(done.stderr.strip())
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@cache
def rendered(values: Path) -> tuple[dict[str, Any], ...]:
    return tuple(render("-f", str(values)))


def group_of(obj: dict[str, Any]) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def is_operator_object(obj: dict[str, Any]) -> bool:
    return "." in group_of(obj) and not group_of(obj).endswith(".k8s.io")


def named(objects: tuple[dict[str, Any], ...], kind: str, suffix: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"expected one {kind} named *{suffix}, found {len(matches)}"
    return matches[0]


def containers(objects: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") or (
            spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
        )
        if obj["kind"] in {"Deployment", "Job", "CronJob"} and pod:
            for container in pod["containers"]:
                yield f"{obj['kind']}/{obj['metadata']['name']}", container


def environment(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", SECRET_PLACEHOLDER) for e in container.get("env", [])}


# --- Kubernetes objects ------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
@pytest.mark.parametrize("kubernetes", KUBERNETES_VERSIONS)
def test_kubernetes_objects_are_valid_in_strict_mode(values: Path, kubernetes: str) -> None:
    for obj in rendered(values):
        if is_operator_object(obj):
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {error.path}")


def test_the_validator_is_strict() -> None:
    """A misspelt field is caught: the check above would be worthless otherwise."""
    worker = copy.deepcopy(named(rendered(VALUES[0]), "Deployment", "-worker"))
    worker["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, KUBERNETES_VERSIONS[-1], strict=True)


# --- Operator objects against their CRDs ------------------------------------------------


def crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    path = CRDS / CRD_FILES[(group, kind)]
    if not path.exists():
        pytest.fail(f"{path} is missing: run deploy/helm/tools.sh {VENV}")
    crd = yaml.safe_load(path.read_text())
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            return strict(served["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{kind} {version} is not a version of {path.name}")


def strict(schema: Any) -> Any:
    """The CRD's OpenAPI schema as JSON Schema, rejecting fields it does not declare (as
    `kubectl apply --validate=strict` does) where it does not keep unknown fields."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "(?i)" in str(out.get("pattern", "")):
        # Go allows the flag mid-pattern, Python only at the start.
        out["pattern"] = "(?i)" + out["pattern"].replace("(?i)", "")
    keeps_unknown = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out


def validate_against_crd(obj: dict[str, Any]) -> None:
    group, version = obj["apiVersion"].split("/")
    body = {key: value for key, value in obj.items() if key != "metadata"}
    schema = crd_schema(group, obj["kind"], version)
    schema.get("properties", {}).pop("metadata", None)
    jsonschema.validate(body, schema)


def strimzi_errors(objects: list[dict[str, Any]]) -> list[list[Any]]:
    modules = CRDS / "strimzi" / "node_modules"
    if not modules.exists():
        pytest.fail(f"{modules} is missing: run deploy/helm/tools.sh {VENV}")
    done = subprocess.run(
        ["node", str(STRIMZI_VALIDATOR), str(modules)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_operator_objects_match_their_crds(values: Path) -> None:
    strimzi = []
    for obj in rendered(values):
        if not is_operator_object(obj):
            continue
        if group_of(obj) == "kafka.strimzi.io":
            strimzi.append(obj)
            continue
        assert (group_of(obj), obj["kind"]) in CRD_FILES, f"no CRD schema for {obj['kind']}"
        try:
            validate_against_crd(obj)
        except jsonschema.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    for obj, errors in zip(strimzi, strimzi_errors(strimzi), strict=True):
        assert errors == [], f"{obj['kind']}/{obj['metadata']['name']}: {errors}"


def test_crd_validation_catches_a_wrong_field() -> None:
    values = CHART / "ci" / "production-values.yaml"
    scaled = copy.deepcopy(named(rendered(values), "ScaledObject", "-worker"))
    scaled["spec"]["maxReplicas"] = 3  # KEDA calls it maxReplicaCount
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(scaled)
    user = copy.deepcopy(
        named(rendered(CHART / "ci" / "in-cluster-values.yaml"), "KafkaUser", "-worker")
    )
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Consume"]
    assert strimzi_errors([user])[0] != []


# --- What the objects say ---------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_every_container_environment_is_valid_settings(values: Path) -> None:
    """Each NEWSSTREAM_* variable is a real setting with a value the program accepts."""
    seen = 0
    for where, container in containers(rendered(values)):
        try:
            Settings.from_env(environment(container))
        except ConfigError as error:
            pytest.fail(f"{where}: {error}")
        seen += 1
    assert seen >= 2


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_passwords_and_keys_come_from_secrets(values: Path) -> None:
    secret_names = ("PASSWORD", "API_KEY", "SECRET", "TOKENS")
    for where, container in containers(rendered(values)):
        for entry in container.get("env", []):
            if entry["name"].endswith(secret_names):
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{where}: {entry['name']}"


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.stem)
def test_pods_run_unprivileged_without_a_token(values: Path) -> None:
    for obj in rendered(values):
        if obj["kind"] not in {"Deployment", "Job", "CronJob"}:
            continue
        spec = obj["spec"]
        pod = (spec.get("jobTemplate", {}).get("spec", spec))["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False


def test_worker_is_a_deployment_probed_on_health_and_readiness() -> None:
    objects = rendered(CHART / "ci" / "external-values.yaml")
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    worker = named(objects, "Deployment", "-worker")["spec"]["template"]["spec"]
    container = worker["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert not [v for v in worker["volumes"] if "persistentVolumeClaim" in v]
    # The setup Job does the admin work; the worker only checks.
    assert environment(container)["NEWSSTREAM_WORKER_SETUP"] == "false"
    setup = named(objects, "Job", "-setup")
    assert setup["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert setup["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]


def test_without_the_setup_job_the_worker_sets_up() -> None:
    objects = render(
        "-f", str(CHART / "ci" / "external-values.yaml"), "--set", "setup.enabled=false"
    )
    assert not [o for o in objects if o["kind"] == "Job"]
    container = named(objects, "Deployment", "-worker")["spec"]["template"]["spec"]["containers"][0]
    assert environment(container)["NEWSSTREAM_WORKER_SETUP"] == "true"


def test_in_cluster_setup_runs_after_the_operators_resources() -> None:
    objects = rendered(CHART / "ci" / "in-cluster-values.yaml")
    setup = named(objects, "Job", "-setup")
    assert setup["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def test_autoscaling_never_exceeds_the_partition_count() -> None:
    production = rendered(CHART / "ci" / "production-values.yaml")
    assert named(production, "ScaledObject", "-worker")["spec"]["maxReplicaCount"] == 12
    in_cluster = rendered(CHART / "ci" / "in-cluster-values.yaml")
    assert named(in_cluster, "HorizontalPodAutoscaler", "-worker")["spec"]["maxReplicas"] == 6
    with pytest.raises(ConfigError, match=re.escape("exceeds kafka.topics.partitions")):
        render(
            "-f",
            str(CHART / "ci" / "production-values.yaml"),
            "--set",
            "autoscaling.maxReplicas=13",
        )


def test_missing_required_values_stop_the_render_with_a_reason() -> None:
    with pytest.raises(ConfigError, match=re.escape("kafka.bootstrap")):
        render()
    external = str(CHART / "ci" / "external-values.yaml")
    with pytest.raises(ConfigError, match=re.escape("api.tokens.secret")):
        render("-f", external, "--set", "api.enabled=true")
    with pytest.raises(ConfigError, match=re.escape("poller.feeds")):
        render("-f", external, "--set", "poller.enabled=true")
    with pytest.raises(ConfigError, match=re.escape("kafka.users.worker.passwordSecret")):
        render("-f", external, "--set", "kafka.securityProtocol=SASL_SSL")


def acls(user: dict[str, Any]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        granted.setdefault(f"{resource['type']}:{resource.get('name', '')}", set()).update(
            acl["operations"]
        )
    return granted


def test_strimzi_topics_are_the_topics_setup_creates() -> None:
    """Same names, partitions, replicas and configs (size limit, retention, compaction)."""
    values_file = CHART / "ci" / "in-cluster-values.yaml"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    settings = Settings(
        topic_partitions=values["kafka"]["topics"]["partitions"],
        topic_replication=values["kafka"]["topics"]["replication"],
        max_article_bytes=values["maxArticleBytes"],
    )
    expected = {
        t.name: (t.num_partitions, t.replication_factor, dict(t.topic_configs))
        for t in pipeline_topics(settings)
    }
    declared = {
        o["spec"]["topicName"]: (
            o["spec"]["partitions"],
            o["spec"]["replicas"],
            {k: str(v) for k, v in o["spec"].get("config", {}).items()},
        )
        for o in rendered(values_file)
        if o["kind"] == "KafkaTopic"
    }
    assert declared == expected


def test_kafka_acls_give_each_component_only_what_it_uses() -> None:
    objects = rendered(CHART / "ci" / "in-cluster-values.yaml")
    settings = Settings()
    topics = {t.name for t in pipeline_topics(settings)}
    declared = {o["spec"]["topicName"] for o in objects if o["kind"] == "KafkaTopic"}
    assert declared == topics

    setup = acls(named(objects, "KafkaUser", "-setup"))
    creatable = {k for k, v in setup.items() if "Create" in v}
    assert {f"topic:{t}" for t in topics} <= creatable

    worker = acls(named(objects, "KafkaUser", "-worker"))
    assert not any("Create" in ops or "Delete" in ops for ops in worker.values())
    assert worker[f"topic:{settings.topic_raw}"] == {"Read", "Describe"}
    assert "Write" in worker[f"topic:{settings.topic_dlq}"]
    assert "Read" in worker[f"group:{settings.app_id}"]

    for component in ("poller", "api"):
        granted = acls(named(objects, "KafkaUser", f"-{component}"))
        assert "Read" not in granted[f"topic:{settings.topic_raw}"]
        assert not any(k.startswith("group:") for k in granted)


def test_elasticsearch_roles_separate_admin_from_work() -> None:
    objects = rendered(CHART / "ci" / "in-cluster-values.yaml")
    roles_secret = named(objects, "Secret", "-es-roles")
    roles = yaml.safe_load(roles_secret["stringData"]["roles.yml"])
    assert set(roles) == {"newsstream_setup", "newsstream_worker", "newsstream_lifecycle"}
    worker = roles["newsstream_worker"]
    assert "manage_index_templates" not in worker["cluster"]
    assert not any("manage" in group["privileges"] for group in worker["indices"])
    assert "manage_index_templates" in roles["newsstream_setup"]["cluster"]
    users = [o for o in objects if o.get("type") == "kubernetes.io/basic-auth"]
    assert len(users) == 3


def test_prometheus_rules_read_only_metrics_the_worker_exposes() -> None:
    objects = rendered(CHART / "ci" / "production-values.yaml")
    rules = named(objects, "PrometheusRule", "")["spec"]["groups"][0]["rules"]
    exposed = exposed_names(_metrics())
    read = set().union(*(metric_names(rule["expr"]) for rule in rules))
    assert read, "the rules read no newsstream metric"
    assert read <= exposed, f"not exposed: {sorted(read - exposed)}"
    assert {r["alert"] for r in rules} >= {
        "NewsstreamConsumerLagGrowing",
        "NewsstreamDeadLetters",
        "NewsstreamFailedDeliveries",
        "NewsstreamWorkerNotReady",
    }


def test_mtls_gives_each_component_its_own_client_certificate() -> None:
    objects = rendered(CHART / "ci" / "mtls-values.yaml")
    expected = {
        "-worker": "kafka-worker-cert",
        "-poller": "kafka-poller-cert",
        "-api": "kafka-api-cert",
    }
    for suffix, secret in expected.items():
        pod = named(objects, "Deployment", suffix)["spec"]["template"]["spec"]
        env = environment(pod["containers"][0])
        assert env["NEWSSTREAM_KAFKA_SSL_CERTFILE"] == "/etc/newsstream/kafka-client/tls.crt"
        assert "NEWSSTREAM_KAFKA_SASL_USERNAME" not in env
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["kafka-client"]["secret"]["secretName"] == secret
