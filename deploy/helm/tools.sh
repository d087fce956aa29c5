#!/usr/bin/env bash
# What the chart tests need besides Python: a Helm binary and the CRD schemas of the
# operators the chart can drive. Everything comes from package registries:
#
#   helm        built from the Go module helm.sh/helm/v4 (a few minutes, once)
#   KEDA, prometheus-operator, ECK CRDs   the YAML in their Go modules (config/crd...)
#   Strimzi     the npm package @kubernetes-models/strimzi-kafka-operator (validators
#               compiled from Strimzi's CRDs; Strimzi publishes no CRD package of its own)
#
# Usage: deploy/helm/tools.sh VENV     installs into VENV/bin/helm and VENV/share/crds/
set -euo pipefail

VENV=${1:?usage: tools.sh VENV}
HELM_VERSION=v4.3.2
KEDA_VERSION=v2.19.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
ECK_VERSION=v3.5.0
STRIMZI_MODELS_VERSION=1.0.1

crds="$VENV/share/crds"
mkdir -p "$VENV/bin" "$crds"
VENV=$(cd "$VENV" && pwd)
crds="$VENV/share/crds"
# The Go and npm downloads are kept beside the CRDs, not in the user's caches.
export GOMODCACHE="$crds/.gomod" GOPATH="$crds/.gopath" GOFLAGS=-modcacherw GOTOOLCHAIN=local

need() {
    command -v "$1" > /dev/null || {
        echo "tools.sh: $1 is needed to $2; install it (e.g. apt-get install $3)" >&2
        exit 1
    }
}

if [[ ! -x "$VENV/bin/helm" ]]; then
    if command -v helm > /dev/null; then
        ln -sf "$(command -v helm)" "$VENV/bin/helm"
    else
        need go "build Helm" golang
        echo "[tools] building helm $HELM_VERSION from the Go module proxy (once, a few minutes)"
        GOBIN="$VENV/bin" go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
    fi
fi

module_dir() {
    go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

if [[ ! -f "$crds/.complete" ]]; then
    need go "download CRDs" golang
    need npm "download the Strimzi models" npm
    echo "[tools] fetching CRD schemas (KEDA $KEDA_VERSION, prometheus-operator" \
        "$PROMETHEUS_OPERATOR_VERSION, ECK $ECK_VERSION, Strimzi models $STRIMZI_MODELS_VERSION)"
    keda=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
    cp "$keda"/config/crd/bases/keda.sh_scaledobjects.yaml \
        "$keda"/config/crd/bases/keda.sh_triggerauthentications.yaml "$crds/"
    prom=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
    cp "$prom"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
        "$prom"/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml "$crds/"
    eck=$(module_dir "github.com/elastic/cloud-on-k8s/v3@$ECK_VERSION")
    cp "$eck"/config/crds/v1/resources/elasticsearch.k8s.elastic.co_elasticsearches.yaml \
        "$eck"/config/crds/v1/resources/kibana.k8s.elastic.co_kibanas.yaml "$crds/"
    chmod u+w "$crds"/*.yaml
    npm install --silent --no-audit --no-fund --prefix "$crds/strimzi" \
        "@kubernetes-models/strimzi-kafka-operator@$STRIMZI_MODELS_VERSION"
    rm -rf "$GOMODCACHE" "$GOPATH"
    touch "$crds/.complete"
fi
