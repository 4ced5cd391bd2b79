#!/usr/bin/env python3
"""The wiring part of deploy/check.sh: what no schema can see, checked
across the objects of one rendered overlay.

  wiring_check.py RENDERED
  wiring_check.py --self-test RENDERED
      breaks the wiring of the rendered overlay in memory one way at a
      time and fails unless each is found (needs the production overlay).

The registry's public HTTP port, in every overlay:
  - ROBOTID_HTTP_LISTEN's port is the registry container's port `http`, and
    the registry Service's port `http` targets it;
  - the Ingress sends /r/, /log/ and /witness/ (Prefix), and nothing else,
    to that Service port and to no other Service or port (gRPC stays
    internal); every host has TLS; the hosts are ROBOTID_PUBLIC_URL's
    (https) host;
  - among the NetworkPolicies that select the registry's pods, each rule
    that admits the HTTP port admits only the ingress controller's
    namespace (a namespaceSelector alone), and one does.
The databases, in an overlay with CloudNativePG Clusters:
  - each service's ROBOTID_DATABASE_URL (init and main container) goes to a
    Pooler of type rw of its own Cluster (or that Cluster's -rw), as the
    Cluster's owner to its database, with sslmode=verify-full and
    sslrootcert inside a mount of the Cluster's -ca Secret, to a host the
    server certificate names; the registry's ROBOTID_READ_DATABASE_URL goes
    to the same Cluster's -ro likewise; no URL holds a password, which is
    PGPASSWORD from the Cluster's -app Secret;
  - each Cluster: at least three instances, quorum synchronous replication
    (method any, 1 <= number < instances, dataDurability required,
    synchronous_commit on), one instance per node (required
    anti-affinity), WAL archived by the Barman Cloud plugin to an
    ObjectStore that exists and whose destinationPath no other Cluster
    shares, a ScheduledBackup with the plugin method;
  - each Pooler is of an existing Cluster and in session mode (see
    README.md: transaction mode breaks the services' session advisory
    locks);
  - a PodMonitor selects each Cluster's instances, each Pooler's pods and
    the services' pods, on a port name those pods have.
Exits 1 on any finding.
"""

import copy
import sys
from urllib.parse import parse_qs, urlparse

import yaml

SERVICES = ("issuance", "registry", "transfer")
PUBLIC_PATHS = {"/r/", "/log/", "/witness/"}
INGRESS_NAMESPACE_KEY = "kubernetes.io/metadata.name"
PLUGIN = "barman-cloud.cloudnative-pg.io"


class Render:
    def __init__(self, objects):
        self.objects = objects
        self.findings = []
        self.passed = []

    def all(self, kind):
        return [o for o in self.objects if o.get("kind") == kind]

    def get(self, kind, name):
        for o in self.all(kind):
            if o["metadata"]["name"] == name:
                return o
        return None

    def fail(self, message):
        self.findings.append(message)

    def ok(self, message):
        self.passed.append(message)


def selects(selector, labels):
    """Whether a LabelSelector matches a set of labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


def effective_env(render, container):
    """NAME -> value or ('secret', name, key), as the kubelet builds it."""
    env = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            config = render.get("ConfigMap", ref["name"])
            env.update((config or {}).get("data") or {})
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in (item.get("valueFrom") or {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = ("secret", ref["name"], ref["key"])
    return env


# ── the registry's public HTTP port ───────────────────────────────────────
def check_public_http(render):
    deployment = render.get("Deployment", "robotid-registry")
    service = render.get("Service", "robotid-registry")
    if deployment is None or service is None:
        render.fail("no robotid-registry Deployment and Service to check")
        return
    container = next(c for c in pod_spec(deployment)["containers"] if c["name"] == "registry")
    env = effective_env(render, container)
    listen = env.get("ROBOTID_HTTP_LISTEN")
    public = env.get("ROBOTID_PUBLIC_URL")
    if not listen or not public:
        render.fail("the registry has no ROBOTID_HTTP_LISTEN or ROBOTID_PUBLIC_URL")
        return
    port = int(listen.rsplit(":", 1)[1])
    container_ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    if container_ports.get("http") != port:
        render.fail(f"ROBOTID_HTTP_LISTEN is {listen} but the container's port `http` is "
                    f"{container_ports.get('http')}")
    service_port = next((p for p in service["spec"]["ports"] if p.get("name") == "http"), None)
    if service_port is None or service_port.get("targetPort") not in ("http", port):
        render.fail("the registry Service has no port `http` targeting the container's `http`")
        return
    render.ok(f"registry HTTP listener {listen}: container port http, Service port http "
              f"{service_port['port']}")

    url = urlparse(public)
    if url.scheme != "https" or not url.hostname:
        render.fail(f"ROBOTID_PUBLIC_URL {public!r} is not an https URL")
    ingresses = [i for i in render.all("Ingress")
                 if any(p["backend"]["service"]["name"] == "robotid-registry"
                        for r in i["spec"].get("rules") or []
                        for p in (r.get("http") or {}).get("paths") or [])]
    if not ingresses:
        render.fail("no Ingress publishes the registry's HTTP port")
    for ingress in ingresses:
        where = f"Ingress/{ingress['metadata']['name']}"
        spec = ingress["spec"]
        if spec.get("defaultBackend"):
            render.fail(f"{where} has a defaultBackend: only {sorted(PUBLIC_PATHS)} may be published")
        tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        hosts, paths = set(), set()
        for rule in spec.get("rules") or []:
            hosts.add(rule.get("host"))
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"].get("service") or {}
                target = backend.get("port") or {}
                paths.add(path["path"])
                if backend.get("name") != "robotid-registry" or (
                        target.get("name") != "http" and target.get("number") != service_port["port"]):
                    render.fail(f"{where} sends {path['path']} to {backend}: only the registry's "
                                f"port http may be behind it")
                if path.get("pathType") != "Prefix":
                    render.fail(f"{where} {path['path']}: pathType {path.get('pathType')}, not Prefix")
        if paths != PUBLIC_PATHS:
            render.fail(f"{where} publishes {sorted(paths)}, not {sorted(PUBLIC_PATHS)}")
        if hosts != {url.hostname}:
            render.fail(f"{where} hosts {sorted(map(str, hosts))} are not ROBOTID_PUBLIC_URL's "
                        f"host {url.hostname!r}")
        if not hosts <= tls_hosts:
            render.fail(f"{where}: hosts without TLS: {sorted(map(str, hosts - tls_hosts))}")
        if not render.findings:
            render.ok(f"{where}: {', '.join(sorted(paths))} on https://{url.hostname} -> "
                      f"robotid-registry:http only, TLS")
    check_http_policies(render, deployment, port)


def check_http_policies(render, deployment, port):
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    admitted_by = []
    for policy in render.all("NetworkPolicy"):
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("ingress") or []:
            ports = rule.get("ports")
            opens = ports is None or any(
                p.get("port") in (port, "http") or
                (p.get("port") is None) or
                (isinstance(p.get("port"), int) and p.get("endPort") and p["port"] <= port <= p["endPort"])
                for p in ports)
            if not opens:
                continue
            name = f"NetworkPolicy/{policy['metadata']['name']}"
            sources = rule.get("from")
            if not sources:
                render.fail(f"{name} admits the registry's HTTP port {port} from anywhere")
                continue
            for source in sources:
                namespaces = (source.get("namespaceSelector") or {}).get("matchLabels") or {}
                if set(source) != {"namespaceSelector"} or set(namespaces) != {INGRESS_NAMESPACE_KEY}:
                    render.fail(f"{name} admits the registry's HTTP port {port} from {source}: "
                                f"only the ingress controller's namespace may reach it")
                else:
                    admitted_by.append((name, namespaces[INGRESS_NAMESPACE_KEY]))
    if not admitted_by:
        render.fail(f"no NetworkPolicy admits the ingress controller to the registry's port {port}")
    else:
        render.ok(f"registry port {port} admitted only from namespace(s) "
                  f"{sorted({n for _, n in admitted_by})} ({', '.join(sorted({p for p, _ in admitted_by}))})")


# ── the databases ─────────────────────────────────────────────────────────
def mounted_secret(spec, container, path):
    """The Secret (name, keys) whose volume is mounted where `path` lies."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        if path.startswith(mount["mountPath"].rstrip("/") + "/"):
            secret = volumes.get(mount["name"], {}).get("secret")
            if secret:
                keys = {i["path"]: i["key"] for i in secret.get("items") or []}
                return secret["secretName"], keys, path[len(mount["mountPath"].rstrip("/")) + 1:]
    return None, {}, None


def check_url(render, where, spec, container, env, variable, cluster, hosts):
    value = env.get(variable)
    if not isinstance(value, str):
        render.fail(f"{where}: {variable} is not a plain setting ({value!r})")
        return
    url = urlparse(value)
    name = cluster["metadata"]["name"]
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    problems = []
    if url.password is not None:
        problems.append("the URL holds a password")
    if url.hostname not in hosts:
        problems.append(f"host {url.hostname!r} is not one of {sorted(hosts)}")
    if url.username != initdb.get("owner"):
        problems.append(f"user {url.username!r} is not the owner {initdb.get('owner')!r}")
    if url.path.lstrip("/") != initdb.get("database"):
        problems.append(f"database {url.path.lstrip('/')!r} is not {initdb.get('database')!r}")
    if query.get("sslmode") != "verify-full":
        problems.append(f"sslmode is {query.get('sslmode')!r}, not verify-full")
    secret, keys, inside = mounted_secret(spec, container, query.get("sslrootcert", ""))
    if secret != f"{name}-ca" or keys.get(inside) != "ca.crt":
        problems.append(f"sslrootcert {query.get('sslrootcert')!r} is not ca.crt of a mounted {name}-ca")
    names = set(cluster["spec"].get("certificates", {}).get("serverAltDNSNames") or [])
    names |= {f"{name}-{s}" for s in ("rw", "ro", "r")}
    if url.hostname not in names:
        problems.append(f"the server certificate does not name {url.hostname!r} (serverAltDNSNames)")
    for problem in problems:
        render.fail(f"{where}: {variable}: {problem}")
    return not problems


def check_databases(render):
    clusters = {c["metadata"]["name"]: c for c in render.all("Cluster")}
    if not clusters:
        return
    poolers = {p["metadata"]["name"]: p for p in render.all("Pooler")}
    stores = {s["metadata"]["name"]: s for s in render.all("ObjectStore")}
    backups = render.all("ScheduledBackup")

    for pooler_name, pooler in poolers.items():
        spec = pooler["spec"]
        if spec["cluster"]["name"] not in clusters:
            render.fail(f"Pooler/{pooler_name} is of a Cluster that does not exist: {spec['cluster']['name']}")
        if spec["pgbouncer"].get("poolMode", "session") != "session":
            render.fail(f"Pooler/{pooler_name} is in {spec['pgbouncer']['poolMode']} mode: the services "
                        f"hold session advisory locks and named prepared statements (README.md)")

    paths = {}
    for name, cluster in clusters.items():
        spec = cluster["spec"]
        sync = (spec.get("postgresql") or {}).get("synchronous") or {}
        parameters = (spec.get("postgresql") or {}).get("parameters") or {}
        problems = []
        if spec.get("instances", 1) < 3:
            problems.append(f"{spec.get('instances', 1)} instances, not three or more")
        if sync.get("method") != "any" or not 1 <= sync.get("number", 0) < spec.get("instances", 1):
            problems.append(f"synchronous replication is not quorum (any) of 1..instances-1: {sync}")
        if sync.get("dataDurability", "required") != "required":
            problems.append("dataDurability is not required: writes could be acknowledged unreplicated")
        if parameters.get("synchronous_commit", "on") != "on":
            problems.append(f"synchronous_commit is {parameters['synchronous_commit']!r}, not on")
        affinity = spec.get("affinity") or {}
        if affinity.get("enablePodAntiAffinity") is False or affinity.get("podAntiAffinityType") != "required" \
                or affinity.get("topologyKey", "kubernetes.io/hostname") != "kubernetes.io/hostname":
            problems.append("instances are not required to be on different nodes")
        archivers = [p for p in spec.get("plugins") or [] if p["name"] == PLUGIN and p.get("isWALArchiver")]
        store = stores.get(((archivers or [{}])[0].get("parameters") or {}).get("barmanObjectName"))
        if store is None:
            problems.append(f"WAL is not archived by {PLUGIN} to an ObjectStore that exists")
        else:
            path = store["spec"]["configuration"]["destinationPath"]
            if path in paths:
                problems.append(f"its ObjectStore's destinationPath {path} is also {paths[path]}'s")
            paths[path] = name
        if not any(b["spec"]["cluster"]["name"] == name and b["spec"].get("method") == "plugin"
                   and b["spec"].get("pluginConfiguration", {}).get("name") == PLUGIN for b in backups):
            problems.append(f"no ScheduledBackup of it with method plugin ({PLUGIN})")
        for problem in problems:
            render.fail(f"Cluster/{name}: {problem}")
        if not problems:
            render.ok(f"Cluster/{name}: {spec['instances']} instances, ANY {sync['number']} synchronous, "
                      f"one per node, archived to {store['spec']['configuration']['destinationPath']}, "
                      f"scheduled backup")

    for service in SERVICES:
        deployment = render.get("Deployment", f"robotid-{service}")
        cluster = clusters.get(f"robotid-{service}-db")
        if deployment is None or cluster is None:
            render.fail(f"robotid-{service} has no Deployment or no Cluster robotid-{service}-db")
            continue
        name = cluster["metadata"]["name"]
        write_hosts = {f"{name}-rw"} | {p for p, o in poolers.items()
                                         if o["spec"]["cluster"]["name"] == name and o["spec"].get("type", "rw") == "rw"}
        spec = pod_spec(deployment)
        good = True
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"Deployment/robotid-{service} container {container['name']}"
            env = effective_env(render, container)
            good &= bool(check_url(render, where, spec, container, env, "ROBOTID_DATABASE_URL",
                                   cluster, write_hosts))
            if service == "registry":
                good &= bool(check_url(render, where, spec, container, env, "ROBOTID_READ_DATABASE_URL",
                                       cluster, {f"{name}-ro"}))
            if env.get("PGPASSWORD") != ("secret", f"{name}-app", "password"):
                render.fail(f"{where}: PGPASSWORD is not the password of Secret {name}-app")
                good = False
        if good:
            reads = f", replica reads -> {name}-ro" if service == "registry" else ""
            render.ok(f"robotid-{service}: writes -> {sorted(write_hosts - {name + '-rw'})} ({name}){reads}; "
                      f"verify-full with {name}-ca; password from {name}-app")

    check_podmonitors(render, clusters, poolers)


def check_podmonitors(render, clusters, poolers):
    monitors = render.all("PodMonitor")

    def covered(labels, ports):
        return any(selects(m["spec"].get("selector"), labels) and
                   any(e.get("port") in ports for e in m["spec"].get("podMetricsEndpoints") or [])
                   for m in monitors)

    targets = []
    for name in clusters:
        targets.append((f"Cluster/{name}", {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}, {"metrics"}))
    for name in poolers:
        targets.append((f"Pooler/{name}", {"cnpg.io/poolerName": name, "cnpg.io/podRole": "pooler"}, {"metrics"}))
    for service in SERVICES:
        deployment = render.get("Deployment", f"robotid-{service}")
        template = deployment["spec"]["template"]
        ports = {p.get("name") for c in template["spec"]["containers"] for p in c.get("ports") or []}
        targets.append((f"Deployment/robotid-{service}", template["metadata"]["labels"], ports))
    missing = [what for what, labels, ports in targets if not covered(labels, ports)]
    for what in missing:
        render.fail(f"no PodMonitor selects the pods of {what} on a port they have")
    if not missing:
        render.ok(f"PodMonitors cover {len(targets)} workloads (instances, poolers, services)")


def check(objects):
    render = Render(objects)
    check_public_http(render)
    check_databases(render)
    return render


# ── self-test: each broken wiring must be found ────────────────────────────
def first(objects, kind, name=None):
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def set_config(objects, configmap_prefix, key, value):
    for o in objects:
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(configmap_prefix):
            o["data"][key] = value


def broken_wirings():
    """(description, mutate, a word the finding must contain)"""
    read_url = "postgres://robotid_registry@robotid-registry-db-rw:5432/robotid_registry?sslmode=verify-full&sslrootcert=/etc/robotid/db-ca/ca.crt"
    with_password = "postgres://robotid_registry:hunter2@robotid-registry-db-pooler-rw:5432/robotid_registry?sslmode=verify-full&sslrootcert=/etc/robotid/db-ca/ca.crt"
    return [
        ("a Pooler in transaction mode",
         lambda o: first(o, "Pooler")["spec"]["pgbouncer"].update(poolMode="transaction"), "transaction"),
        ("replica reads at the primary",
         lambda o: set_config(o, "robotid-registry-", "ROBOTID_READ_DATABASE_URL", read_url), "READ_DATABASE_URL"),
        ("a password in a URL",
         lambda o: set_config(o, "robotid-registry-", "ROBOTID_DATABASE_URL", with_password), "password"),
        ("TLS without host verification",
         lambda o: set_config(o, "robotid-issuance-", "ROBOTID_DATABASE_URL",
                              "postgres://robotid_issuance@robotid-issuance-db-pooler-rw:5432/robotid_issuance?sslmode=require"),
         "verify-full"),
        ("another service's database",
         lambda o: set_config(o, "robotid-transfer-", "ROBOTID_DATABASE_URL",
                              "postgres://robotid_transfer@robotid-issuance-db-pooler-rw:5432/robotid_transfer?sslmode=verify-full&sslrootcert=/etc/robotid/db-ca/ca.crt"),
         "host"),
        ("writes acknowledged unreplicated",
         lambda o: first(o, "Cluster")["spec"]["postgresql"]["synchronous"].update(dataDurability="preferred"),
         "dataDurability"),
        ("two clusters archiving to one path",
         lambda o: [s["spec"]["configuration"].update(destinationPath="s3://one/path")
                    for s in o if s["kind"] == "ObjectStore"], "destinationPath"),
        ("a cluster without its PodMonitor",
         lambda o: o.remove(first(o, "PodMonitor", "robotid-registry-db")), "PodMonitor"),
        ("the whole site behind the Ingress",
         lambda o: first(o, "Ingress")["spec"]["rules"][0]["http"]["paths"][0].update(path="/"), "publishes"),
        ("gRPC behind the Ingress",
         lambda o: first(o, "Ingress")["spec"]["rules"][0]["http"]["paths"][1]["backend"]["service"]["port"]
         .update(name="grpc"), "only the registry's"),
        ("an Ingress host that is not the public URL's",
         lambda o: set_config(o, "robotid-registry-", "ROBOTID_PUBLIC_URL", "https://elsewhere.example.org"),
         "host"),
        ("the HTTP port open to everyone",
         lambda o: first(o, "NetworkPolicy", "allow-clients-to-registry")["spec"]["ingress"][0]["ports"]
         .append({"protocol": "TCP", "port": 8080}), "from anywhere"),
    ]


def self_test(objects):
    failed = 0
    if check(objects).findings:
        print("    FAILED wiring self-test: the unbroken render has findings")
        return 1
    for description, mutate, word in broken_wirings():
        broken = copy.deepcopy(objects)
        mutate(broken)
        findings = check(broken).findings
        if not any(word in f for f in findings):
            print(f"    FAILED wiring self-test: {description} was not found ({findings or 'no finding'})")
            failed += 1
    if not failed:
        print(f"    wiring self-test: {len(broken_wirings())} broken wirings, each found")
    return 1 if failed else 0


def main():
    arguments = sys.argv[1:]
    testing = arguments[:1] == ["--self-test"]
    if testing:
        arguments = arguments[1:]
    if len(arguments) != 1:
        sys.exit(__doc__)
    with open(arguments[0], encoding="utf-8") as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    if testing:
        sys.exit(self_test(objects))
    render = check(objects)
    for message in render.passed:
        print(f"    wired: {message}")
    for message in render.findings:
        print(f"    FAILED: {message}")
    sys.exit(1 if render.findings else 0)


if __name__ == "__main__":
    main()
