#!/usr/bin/env bash
# The local topology: the three service binaries as three separate
# processes on PostgreSQL, with the settings the Kubernetes manifests give
# them (the ROBOTID_* literals of deploy/k8s/base/kustomization.yaml, read
# from there; only addresses, file paths and the public URL are local), over
# mutual TLS with a PKI made by `robotid pki`. It waits for health, walks a robot through
# issuance, release, sale, export clearance and departure with the
# `robotid` CLI, checks the outcome, stops the services with SIGTERM and
# checks that each exits 0. Once the registry binary has --http-listen, its
# public HTTP listener must serve the robot's card (and, once it keeps a
# log, the log's checkpoint).
#
# Needs: `cargo build --bins` done (target/debug), PostgreSQL on
# 127.0.0.1:5432 (user postgres, trust auth; ROBOTID_TOPOLOGY_PG overrides),
# python3 (free ports), psql and pg_dump, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${ROBOTID_BIN_DIR:-target/debug}"
PG="${ROBOTID_TOPOLOGY_PG:-postgres://postgres@127.0.0.1:5432}"
KUSTOMIZATION=deploy/k8s/base/kustomization.yaml
for binary in robotid robotid-issuance robotid-registry robotid-transfer; do
    [ -x "$BIN/$binary" ] || { echo "topology: $BIN/$binary missing: run cargo build --bins" >&2; exit 1; }
done
BIN="$(cd "$BIN" && pwd)"

WORK="$(mktemp -d)"
RUN_ID="topology_$$_$(date +%s)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for service in issuance registry transfer; do
        psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS ${RUN_ID}_${service} WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf 'topology: %s\n' "$*"; }
fail() { printf 'topology: FAILED: %s\n' "$*" >&2; for log in "$WORK"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done; exit 1; }

# The literals of one configMapGenerator entry, as NAME=VALUE lines.
manifest_settings() {
    awk -v want="$1" '
        /^  - name: / { inside = ($3 == want); next }
        inside && /^      - [A-Z_]+=/ { sub(/^      - /, ""); print; next }
        inside && /^  [^ ]/ { inside = 0 }
    ' "$KUSTOMIZATION"
}

free_ports() {
    python3 -c '
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
for s in sockets: s.close()' "$1"
}

start_ns=$(date +%s%N)
elapsed() { printf '%d.%01d s' $(( ($(date +%s%N) - start_ns) / 1000000000 )) $(( ($(date +%s%N) - start_ns) / 100000000 % 10 )); }
# ── Secrets, as an operator would make them ──────────────────────────────
"$BIN/robotid" pki --dir "$WORK/pki" >/dev/null
"$BIN/robotid" credential keygen --out "$WORK/signing-key.pem" >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/holder-key"
# The registry's log and witness keys: Ed25519 PKCS#8 PEM, as the signing key.
"$BIN/robotid" credential keygen --out "$WORK/log-key.pem" >/dev/null
"$BIN/robotid" credential keygen --out "$WORK/witness-key.pem" >/dev/null
chmod 600 "$WORK/holder-key"

# ── Databases ───────────────────────────────────────────────────────────
for service in issuance registry transfer; do
    psql "$PG/postgres" -qAtc "CREATE DATABASE ${RUN_ID}_${service}" >/dev/null
done

read -r P_ISS P_REG P_TRA H_ISS H_REG H_TRA M_ISS M_REG M_TRA W_REG <<<"$(free_ports 10)"

# Runs one service with the manifests' settings for it, then the local
# ones (which win: the environment is read last to first here). A setting
# the binary does not know yet is an environment variable it ignores (clap
# reads only the variables of its own arguments), so the manifests may name
# settings ahead of the code; they are never passed as flags.
launch() {
    local service=$1 port=$2 health=$3 metrics=$4
    (
        set -a
        # shellcheck disable=SC1090
        source <(manifest_settings robotid-common; manifest_settings "robotid-$service")
        ROBOTID_LISTEN="127.0.0.1:$port"
        ROBOTID_HEALTH_LISTEN="127.0.0.1:$health"
        ROBOTID_METRICS_LISTEN="127.0.0.1:$metrics"
        ROBOTID_DATABASE_URL="$PG/${RUN_ID}_${service}"
        ROBOTID_TLS_CERT="$WORK/pki/$service.crt"
        ROBOTID_TLS_KEY="$WORK/pki/$service.key"
        ROBOTID_TLS_CA="$WORK/pki/ca.crt"
        [ -n "${ROBOTID_REGISTRY_URL:-}" ] && ROBOTID_REGISTRY_URL="https://localhost:$P_REG"
        [ -n "${ROBOTID_SIGNING_KEY_FILE:-}" ] && ROBOTID_SIGNING_KEY_FILE="$WORK/signing-key.pem"
        [ -n "${ROBOTID_HOLDER_KEY_FILE:-}" ] && ROBOTID_HOLDER_KEY_FILE="$WORK/holder-key"
        [ -n "${ROBOTID_HTTP_LISTEN:-}" ] && ROBOTID_HTTP_LISTEN="127.0.0.1:$W_REG"
        [ -n "${ROBOTID_PUBLIC_URL:-}" ] && ROBOTID_PUBLIC_URL="http://127.0.0.1:$W_REG"
        [ -n "${ROBOTID_CREDENTIAL_PUBLIC_KEY_FILE:-}" ] && ROBOTID_CREDENTIAL_PUBLIC_KEY_FILE="$WORK/signing-key.pem.pub"
        [ -n "${ROBOTID_LOG_KEY_FILE:-}" ] && ROBOTID_LOG_KEY_FILE="$WORK/log-key.pem"
        [ -n "${ROBOTID_WITNESS_KEY_FILE:-}" ] && ROBOTID_WITNESS_KEY_FILE="$WORK/witness-key.pem"
        set +a
        exec "$BIN/robotid-$service"
    ) >"$WORK/$service.log" 2>&1 &
    PIDS+=("$!")
}
say "manifest settings: $(manifest_settings robotid-common | cut -d= -f1 | tr '\n' ' ')(+ each service's own)"
launch registry "$P_REG" "$H_REG" "$M_REG"
launch issuance "$P_ISS" "$H_ISS" "$M_ISS"
launch transfer "$P_TRA" "$H_TRA" "$M_TRA"

# ── Health, as the kubelet's probes ask it (plaintext health port) ───────
for health in "$H_REG" "$H_ISS" "$H_TRA"; do
    for _ in $(seq 300); do
        "$BIN/robotid" health --server "http://127.0.0.1:$health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$BIN/robotid" health --server "http://127.0.0.1:$health" >/dev/null || fail "port $health never became SERVING"
done
say "three services SERVING after $(elapsed)"

# ── The scenario, through the CLI over mutual TLS ──────────────────────
# The CLI's --data-dir is only where it finds pki/; the servers are given.
rid() { "$BIN/robotid" --data-dir "$WORK" "$@"; }
ISS=(--server "https://localhost:$P_ISS")
REG=(--server "https://localhost:$P_REG")
TRA=(--server "https://localhost:$P_TRA")
# The regulator admits the demo manufacturer and approves its model.
rid seed --as regulator "${ISS[@]}" >/dev/null
# The manufacturer issues an ID (issuance delivers it to the registry
# through its outbox, over mutual TLS with its own certificate).
ROBOT=$(rid issue --as manufacturer "${ISS[@]}" --model HX0001 --count 1 --quiet --no-wait)
for _ in $(seq 100); do rid resolve "$ROBOT" "${REG[@]}" >/dev/null 2>&1 && break; sleep 0.1; done
rid resolve "$ROBOT" "${REG[@]}" >/dev/null || fail "issuance never delivered $ROBOT to the registry"
rid record "$ROBOT" released-to-market --as manufacturer "${REG[@]}" >/dev/null
rid record "$ROBOT" sold --as seller --private-holder "topology-customer-1" "${REG[@]}" >/dev/null
EXPORT=$(rid clearance export "$ROBOT" --to DE --from CN --declarant "Topology Export Dept." \
    --office CN-SHA --as customs "${TRA[@]}" --quiet)
rid clearance depart "$EXPORT" --as customs "${TRA[@]}" >/dev/null

# ── The outcome ─────────────────────────────────────────────────────────
robot=$(rid resolve "$ROBOT" --full --as regulator "${REG[@]}" --json)
grep -q '"jurisdiction":"ABROAD"' <<<"$robot" || fail "not abroad: $robot"
grep -q '"status":"IN_SERVICE"' <<<"$robot" || fail "not in service: $robot"
grep -q '"private_reference_hash"' <<<"$robot" || fail "no hashed holder: $robot"
transfer=$(rid clearance status "$EXPORT" --as customs "${TRA[@]}" --json)
grep -q '"state":"DEPARTED"' <<<"$transfer" || fail "not departed: $transfer"
events=$(rid history "$ROBOT" --as regulator "${REG[@]}" --json)
for kind in ISSUED RELEASED_TO_MARKET SOLD EXPORT_CLEARED EXPORTED; do
    grep -q "\"type\":\"$kind\"" <<<"$events" || fail "no $kind event: $events"
done
rid verify-history "$ROBOT" --as regulator "${REG[@]}" >/dev/null || fail "history broken"
# Nobody without a certificate reads the full record.
if rid resolve "$ROBOT" --full "${REG[@]}" >/dev/null 2>&1; then fail "anonymous full read"; fi
# The private reference is nowhere in the databases. Each output is read
# whole before grep: `grep -q` stops at its first match, and under pipefail
# the writer's broken pipe would turn a found reference into a pass.
for service in issuance registry transfer; do
    pg_dump -d "$PG/${RUN_ID}_${service}" --data-only > "$WORK/$service.dump"
    if grep -q topology-customer-1 "$WORK/$service.dump"; then
        fail "the private holder reference is stored in $service"
    fi
done
# Metrics are served where the manifests' Prometheus annotations look.
metrics=$(curl -fsS "http://127.0.0.1:$M_REG/metrics") || fail "registry metrics endpoint did not answer"
grep -q rpc_server <<<"$metrics" || fail "no registry metrics"
# The manifests' settings were in force: JSON logs, for collectors.
for service in issuance registry transfer; do
    head -n 1 "$WORK/$service.log" | grep -q '^{' || fail "$service does not log JSON as the manifests ask"
done
# The public HTTP listener, where the manifests put it, once the binary
# has one (ROBOTID_HTTP_LISTEN is only an ignored variable before that):
# the robot's public card, and the log's checkpoint once the binary keeps a
# log (--log-key-file).
if "$BIN/robotid-registry" --help 2>/dev/null | grep -q -- '--http-listen'; then
    code=000
    for _ in $(seq 50); do
        code=$(curl -s -o "$WORK/card.json" -w '%{http_code}' -H 'Accept: application/json' \
            "http://127.0.0.1:$W_REG/r/$ROBOT" || true)
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    [ "$code" = 200 ] || fail "the registry's HTTP listener answered $code for the card /r/$ROBOT"
    grep -q "\"robotId\":\"$ROBOT\"" "$WORK/card.json" || fail "the card's JSON is not the robot's: $(cat "$WORK/card.json")"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$W_REG/r/$ROBOT/credential" || true)
    [ "$code" = 200 ] || fail "the registry serves no credential for $ROBOT ($code)"
    say "public HTTP listener serves the card /r/$ROBOT and its credential"
    if "$BIN/robotid-registry" --help 2>/dev/null | grep -q -- '--log-key-file'; then
        code=$(curl -s -o "$WORK/checkpoint" -w '%{http_code}' "http://127.0.0.1:$W_REG/log/checkpoint" || true)
        [ "$code" = 200 ] || fail "the registry's HTTP listener answered $code for /log/checkpoint"
        say "public HTTP listener serves /log/checkpoint"
    fi
else
    say "the registry binary has no --http-listen yet: its public HTTP listener is not checked"
fi
say "scenario passed: $ROBOT issued, released, sold, cleared for export, departed"

# ── SIGTERM: each drains and exits 0 ────────────────────────────────────
names=(registry issuance transfer)
for i in 2 1 0; do
    kill -TERM "${PIDS[$i]}"
    if wait "${PIDS[$i]}"; then :; else fail "${names[$i]} exited $? after SIGTERM"; fi
done
PIDS=()
say "all three stopped with exit 0; took $(elapsed)"
