#!/usr/bin/env python3
"""The custom-resource part of deploy/check.sh: validates the CloudNativePG
objects of a rendered overlay against the CRDs' own OpenAPI v3 schemas, the
way the API server would on `kubectl apply --validate=strict`, and hands the
objects Kubernetes itself knows to kubernetes-validate.

  crd_check.py validate --crds DIR --core OUT RENDERED
      Writes the objects of built-in API groups to OUT (for
      kubernetes-validate); validates every object of a group the CRDs in
      DIR define; refuses any object that neither covers. Exits 1 on any
      error. Without DIR (it does not exist) says what it skipped.
  crd_check.py self-test --crds DIR RENDERED
      Breaks copies of the rendered resources one way at a time (a wrong
      type, an unknown field, a value outside an enum, a missing required
      field, a pattern, a minimum, int-or-string, a CEL rule) and fails
      unless each copy is refused at the field that was broken, so that
      this check cannot pass by accepting everything.

What is checked, per object, against `spec.versions[].schema.openAPIV3Schema`
of the CRD for its apiVersion and kind (the version must be served):
  - every field set exists in the schema (`properties`, or
    `additionalProperties`); unknown fields are refused, except under
    `x-kubernetes-preserve-unknown-fields: true` (and in the root
    `metadata`, which is checked as ObjectMeta);
  - types (`integer` is not `number`; booleans are not integers; null only
    where `nullable`), `x-kubernetes-int-or-string`, `anyOf`/`allOf`/
    `oneOf`/`not`;
  - `required`, `enum`, `pattern`, `minimum`/`maximum` (and exclusive),
    `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/
    `maxProperties`, `uniqueItems`, `format` int32/int64 ranges,
    `x-kubernetes-list-type` set/map uniqueness;
  - `x-kubernetes-validations` (CEL) rules, evaluated with cel-python after
    the schema's defaults are applied, as the API server does; transition
    rules (those that read `oldSelf`) only apply to updates and are counted
    as not applicable.

The Barman Cloud plugin's ObjectStore (barmancloud.cnpg.io/v1) has no CRD in
DIR; its `spec.configuration` is the same Go type as the Cluster's
`spec.backup.barmanObjectStore` (BarmanObjectStoreConfiguration of
cloudnative-pg/barman-cloud) and its `spec.retentionPolicy` has the pattern
of the Cluster's `spec.backup.retentionPolicy`, so both are validated against
those parts of the Cluster CRD; the plugin's own rule (no `serverName` there:
it is a plugin parameter of the Cluster) is applied too, and any other field
of ObjectStore is refused.
"""

import argparse
import copy
import json
import os
import re
import sys

import yaml

try:
    import celpy
    import celpy.celtypes
except ImportError:  # check.sh installs it; without it CEL rules are not run
    celpy = None

CNPG_GROUP = "postgresql.cnpg.io"
BARMAN_GROUP = "barmancloud.cnpg.io"
# Groups whose objects no schema here covers: kubernetes-validate does not
# know them and neither does this check. check.sh lists them as such.
UNVALIDATED_GROUPS = {"monitoring.coreos.com"}

OBJECT_META_FIELDS = {
    "name": str, "generateName": str, "namespace": str, "labels": dict,
    "annotations": dict, "finalizers": list, "ownerReferences": list,
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def group_of(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


class Crds:
    """The CRDs of one directory: (group, version, kind) -> schema."""

    def __init__(self, directory):
        self.schemas = {}
        self.files = {}
        self.groups = set()
        for name in sorted(os.listdir(directory)):
            if not name.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                for doc in yaml.safe_load_all(f):
                    if not doc or doc.get("kind") != "CustomResourceDefinition":
                        continue
                    spec = doc["spec"]
                    self.groups.add(spec["group"])
                    for version in spec["versions"]:
                        if not version.get("served", False):
                            continue
                        key = (spec["group"], version["name"], spec["names"]["kind"])
                        self.schemas[key] = version["schema"]["openAPIV3Schema"]
                        self.files[key] = name

    def schema(self, api_version, kind):
        group, _, version = api_version.partition("/")
        return self.schemas.get((group, version, kind))

    def objectstore_schema(self):
        """ObjectStore's envelope around two parts of the Cluster CRD."""
        cluster = self.schemas.get((CNPG_GROUP, "v1", "Cluster"))
        if cluster is None:
            return None
        backup = cluster["properties"]["spec"]["properties"]["backup"]["properties"]
        configuration = copy.deepcopy(backup["barmanObjectStore"])
        configuration.setdefault("x-kubernetes-validations", []).append({
            "rule": "!has(self.serverName)",
            "message": "use the 'serverName' plugin parameter in the Cluster resource",
        })
        return {
            "type": "object",
            "required": ["spec"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["configuration"],
                    "properties": {
                        "configuration": configuration,
                        "retentionPolicy": copy.deepcopy(backup["retentionPolicy"]),
                    },
                },
            },
        }


# bool before int: in Python a bool is an int, in JSON it is not.
JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
              (list, "array"), (dict, "object"))


def type_name(value):
    if value is None:
        return "null"
    return next((name for kind, name in JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def type_matches(value, wanted):
    actual = type_name(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


class Validator:
    """Walks one object against its schema, collecting errors and counts."""

    def __init__(self):
        self.errors = []
        self.fields = 0
        self.cel_run = 0
        self.cel_transition = 0
        self.cel_unavailable = 0
        self._cel_env = celpy.Environment() if celpy else None
        self._cel_cache = {}

    def error(self, path, message):
        self.errors.append(f"{path or '<root>'}: {message}")

    # ── defaults, applied before validation as the API server does ──────
    def apply_defaults(self, value, schema):
        if isinstance(value, dict):
            for name, sub in (schema.get("properties") or {}).items():
                if name not in value and "default" in sub:
                    value[name] = copy.deepcopy(sub["default"])
                if name in value:
                    self.apply_defaults(value[name], sub)
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                for name, item in value.items():
                    if name not in (schema.get("properties") or {}):
                        self.apply_defaults(item, extra)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for item in value:
                self.apply_defaults(item, schema["items"])

    # ── the walk ────────────────────────────────────────────────────────
    def check(self, value, schema, path, root=False):
        self.fields += 1
        if value is None:
            if not schema.get("nullable"):
                self.error(path, "null is not allowed here (the schema is not nullable)")
            return
        if schema.get("x-kubernetes-int-or-string"):
            if type_name(value) not in ("integer", "string"):
                self.error(path, f"must be an integer or a string, not {type_name(value)}")
                return
        elif "type" in schema and not type_matches(value, schema["type"]):
            self.error(path, f"must be of type {schema['type']}, not {type_name(value)}")
            return

        self.check_value(value, schema, path)
        for keyword in ("allOf", "anyOf", "oneOf", "not"):
            if keyword in schema:
                self.check_combinator(keyword, value, schema[keyword], path)

        if isinstance(value, dict):
            self.check_object(value, schema, path, root)
        elif isinstance(value, list):
            self.check_array(value, schema, path)

        for rule in schema.get("x-kubernetes-validations") or []:
            self.check_cel(rule, value, path)

    def check_value(self, value, schema, path):
        if "enum" in schema and value not in schema["enum"]:
            self.error(path, f"{value!r} is not one of {schema['enum']}")
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                self.error(path, f"{value!r} does not match the pattern {schema['pattern']}")
            if len(value) > schema.get("maxLength", len(value)):
                self.error(path, f"longer than {schema['maxLength']} characters")
            if len(value) < schema.get("minLength", 0):
                self.error(path, f"shorter than {schema['minLength']} characters")
        if type_name(value) in ("integer", "number"):
            if "minimum" in schema:
                low = schema["minimum"]
                if value < low or (schema.get("exclusiveMinimum") is True and value == low):
                    self.error(path, f"{value} is below the minimum {low}")
            if "maximum" in schema:
                high = schema["maximum"]
                if value > high or (schema.get("exclusiveMaximum") is True and value == high):
                    self.error(path, f"{value} is above the maximum {high}")
            bounds = INT_RANGES.get(schema.get("format"))
            if bounds and not bounds[0] <= value <= bounds[1]:
                self.error(path, f"{value} does not fit {schema['format']}")

    def check_combinator(self, keyword, value, schemas, path):
        def passes(sub):
            probe = Validator()
            probe.check_value_only(value, sub, path)
            return not probe.errors

        if keyword == "not":
            if passes(schemas):
                self.error(path, "matches a schema it must not match")
            return
        results = [passes(sub) for sub in schemas]
        if keyword == "allOf" and not all(results):
            self.error(path, "does not match every schema of allOf")
        if keyword == "anyOf" and not any(results):
            self.error(path, "matches none of the schemas of anyOf")
        if keyword == "oneOf" and results.count(True) != 1:
            self.error(path, f"matches {results.count(True)} of the schemas of oneOf, not one")

    def check_value_only(self, value, schema, path):
        """A combinator branch: structural schemas allow only value checks
        there (no properties of their own), so type and values suffice."""
        if "type" in schema and not type_matches(value, schema["type"]):
            self.error(path, f"not of type {schema['type']}")
            return
        self.check_value(value, schema, path)
        if isinstance(value, dict):
            for name in schema.get("required") or []:
                if name not in value:
                    self.error(path, f"missing {name}")

    def check_object(self, value, schema, path, root):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        for name in schema.get("required") or []:
            if name not in value:
                self.error(path, f"the required field {name!r} is missing")
        for name, item in value.items():
            here = f"{path}.{name}" if path else name
            if root and name == "metadata":
                self.check_object_meta(item, here)
            elif name in properties:
                self.check(item, properties[name], here)
            elif isinstance(extra, dict):
                self.check(item, extra, here)
            elif extra is True or preserve:
                continue
            elif embedded and name in ("apiVersion", "kind", "metadata"):
                continue
            else:
                known = ", ".join(sorted(properties)) or "none"
                self.error(here, f"unknown field (the schema has: {known})")
        if len(value) < schema.get("minProperties", 0):
            self.error(path, f"fewer than {schema['minProperties']} properties")
        if len(value) > schema.get("maxProperties", len(value)):
            self.error(path, f"more than {schema['maxProperties']} properties")

    def check_array(self, value, schema, path):
        if len(value) < schema.get("minItems", 0):
            self.error(path, f"fewer than {schema['minItems']} items")
        if len(value) > schema.get("maxItems", len(value)):
            self.error(path, f"more than {schema['maxItems']} items")
        list_type = schema.get("x-kubernetes-list-type")
        if schema.get("uniqueItems") or list_type == "set":
            seen = [json.dumps(item, sort_keys=True) for item in value]
            if len(seen) != len(set(seen)):
                self.error(path, "items must be unique")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = [tuple(json.dumps(item.get(k)) for k in keys) for item in value if isinstance(item, dict)]
            if len(seen) != len(set(seen)):
                self.error(path, f"items must be unique by {keys}")
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{path}[{index}]")

    def check_object_meta(self, value, path):
        if not isinstance(value, dict):
            self.error(path, "metadata must be an object")
            return
        for name, item in value.items():
            wanted = OBJECT_META_FIELDS.get(name)
            if wanted is None:
                self.error(f"{path}.{name}", "unknown field of ObjectMeta")
            elif not isinstance(item, wanted):
                self.error(f"{path}.{name}", f"must be {wanted.__name__}")
        for field in ("labels", "annotations"):
            for key, item in (value.get(field) or {}).items():
                if not isinstance(item, str):
                    self.error(f"{path}.{field}.{key}", "values must be strings")
        name = value.get("name")
        if not name:
            self.error(path, "metadata.name is missing")
        elif not (len(name) <= 253 and DNS_SUBDOMAIN.match(name)):
            self.error(f"{path}.name", f"{name!r} is not a DNS subdomain name")

    # ── CEL ─────────────────────────────────────────────────────────────
    def check_cel(self, rule, value, path):
        expression = rule["rule"]
        if re.search(r"\boldSelf\b", expression):
            self.cel_transition += 1
            return
        if self._cel_env is None:
            self.cel_unavailable += 1
            return
        program = self._cel_cache.get(expression)
        if program is None:
            program = self._cel_env.program(self._cel_env.compile(expression))
            self._cel_cache[expression] = program
        self.cel_run += 1
        try:
            result = program.evaluate({"self": celpy.json_to_cel(value)})
        except Exception as error:  # an evaluation error rejects, as in Kubernetes
            result = error
        if isinstance(result, Exception):
            self.error(path, f"CEL rule {expression!r} could not be evaluated: {result}")
        elif not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            message = rule.get("message") or "failed"
            self.error(path, f"CEL rule {expression!r}: {message}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def name_of(obj):
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def validate_object(crds, obj):
    """(validator, schema file) for one custom object, or (None, reason)."""
    api_version = obj.get("apiVersion", "")
    if group_of(api_version) == BARMAN_GROUP and obj.get("kind") == "ObjectStore":
        schema = crds.objectstore_schema()
        source = "the Cluster CRD's barmanObjectStore and retentionPolicy"
    else:
        schema = crds.schema(api_version, obj.get("kind"))
        source = crds.files.get(tuple(api_version.split("/")) + (obj.get("kind"),))
    if schema is None:
        return None, f"no served CRD version defines {api_version} {obj.get('kind')}"
    validator = Validator()
    value = copy.deepcopy(obj)
    validator.apply_defaults(value, schema)
    validator.check(value, schema, "", root=True)
    return validator, source


def command_validate(args):
    objects = load(args.rendered)
    core, custom, unvalidated = [], [], []
    have_crds = os.path.isdir(args.crds)
    crds = Crds(args.crds) if have_crds else None
    custom_groups = {CNPG_GROUP, BARMAN_GROUP} | (crds.groups if crds else set())
    for obj in objects:
        group = group_of(obj.get("apiVersion", ""))
        if group in custom_groups:
            custom.append(obj)
        elif group in UNVALIDATED_GROUPS:
            unvalidated.append(obj)
        else:
            core.append(obj)
    with open(args.core, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(core, f, sort_keys=False)

    failed = False
    print(f"    {len(core)} objects of built-in groups -> {args.core} (kubernetes-validate)")
    if unvalidated:
        names = ", ".join(name_of(o) for o in unvalidated)
        print(f"    no schema here (no CRD in the inputs): {names}")
    if not custom:
        return 0
    if not have_crds:
        names = ", ".join(name_of(o) for o in custom)
        print(f"    SKIPPED: {args.crds} is absent, so {len(custom)} custom resources "
              f"were not validated against CloudNativePG's CRDs: {names}")
        return 0
    if celpy is None:
        print("    CEL rules not evaluated: cel-python is not installed")
    for obj in custom:
        validator, source = validate_object(crds, obj)
        if validator is None:
            print(f"    FAILED {name_of(obj)}: {source}")
            failed = True
            continue
        cel = f"{validator.cel_run} CEL rules held"
        if validator.cel_transition:
            cel += f", {validator.cel_transition} update-only rules not applicable"
        if validator.cel_unavailable:
            cel += f", {validator.cel_unavailable} CEL rules NOT RUN"
        if validator.errors:
            failed = True
            print(f"    FAILED {name_of(obj)} against {source}:")
            for error in validator.errors:
                print(f"      {error}")
        else:
            print(f"    valid {name_of(obj)}: {validator.fields} values against {source}; {cel}")
    return 1 if failed else 0


# ── self-test: broken copies must be refused ───────────────────────────────
def mutations(objects):
    """(description, kind, path, mutate) — each breaks one thing."""

    def setter(keys, value):
        def apply(obj):
            node = obj
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        return apply

    def deleter(keys):
        def apply(obj):
            node = obj
            for key in keys[:-1]:
                node = node[key]
            del node[keys[-1]]
        return apply

    sync = ["spec", "postgresql", "synchronous"]
    return [
        ("wrong type", "Cluster", "spec.instances", setter(["spec", "instances"], "three")),
        ("unknown field", "Cluster", "spec.postgresql.synchronous.mode",
         setter(sync + ["mode"], "quorum")),
        ("unknown field at the top of spec", "Pooler", "spec.poolerMode",
         setter(["spec", "poolerMode"], "session")),
        ("value outside the enum", "Cluster", "spec.postgresql.synchronous.method",
         setter(sync + ["method"], "quorum")),
        ("value outside the enum", "Pooler", "spec.pgbouncer.poolMode",
         setter(["spec", "pgbouncer", "poolMode"], "statement")),
        ("missing required field", "Cluster", "spec.postgresql.synchronous",
         deleter(sync + ["number"])),
        ("missing required field", "ScheduledBackup", "spec", deleter(["spec", "schedule"])),
        ("below the minimum", "Cluster", "spec.instances", setter(["spec", "instances"], 0)),
        ("pattern", "ObjectStore", "spec.retentionPolicy",
         setter(["spec", "retentionPolicy"], "30 days")),
        ("int-or-string given a boolean", "Cluster", "spec.probes.readiness.maximumLag",
         setter(["spec", "probes", "readiness", "maximumLag"], True)),
        ("CEL rule", "Cluster", "spec.postgresql.synchronous.number",
         setter(sync + ["number"], -1)),
        ("CEL rule across fields", "Cluster", "spec.postgresql.synchronous",
         lambda obj: (setter(sync + ["dataDurability"], "preferred")(obj),
                      setter(sync + ["standbyNamesPre"], ["elsewhere"])(obj))),
        ("ObjectStore field the plugin forbids", "ObjectStore", "spec.configuration",
         setter(["spec", "configuration", "serverName"], "x")),
        ("unknown field of ObjectMeta", "Cluster", "metadata.labelz",
         setter(["metadata", "labelz"], {})),
    ]


def command_self_test(args):
    if not os.path.isdir(args.crds):
        print(f"    SKIPPED: {args.crds} is absent: no negative self-test of the CRD check")
        return 0
    crds = Crds(args.crds)
    objects = {}
    for obj in load(args.rendered):
        objects.setdefault(obj.get("kind"), obj)
    failed = 0
    tested = 0
    for description, kind, where, mutate in mutations(objects):
        original = objects.get(kind)
        if original is None:
            print(f"    FAILED self-test {description}: no rendered {kind} to break")
            failed += 1
            continue
        validator, _ = validate_object(crds, original)
        if validator is None or validator.errors:
            print(f"    FAILED self-test: the unbroken {name_of(original)} is refused")
            failed += 1
            continue
        broken = copy.deepcopy(original)
        mutate(broken)
        validator, _ = validate_object(crds, broken)
        tested += 1
        hits = [e for e in validator.errors if e.startswith(where)]
        if not hits:
            print(f"    FAILED self-test {description} at {kind} {where}: "
                  f"refused for {validator.errors or 'nothing: it was accepted'}")
            failed += 1
        elif args.verbose:
            print(f"      refused ({description}): {kind} {hits[0]}")
    if failed:
        return 1
    print(f"    self-test: {tested} deliberately broken copies of rendered resources, "
          f"each refused at the field that was broken")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate")
    validate.add_argument("--crds", required=True)
    validate.add_argument("--core", required=True)
    validate.add_argument("rendered")
    selftest = sub.add_parser("self-test")
    selftest.add_argument("--crds", required=True)
    selftest.add_argument("--verbose", action="store_true")
    selftest.add_argument("rendered")
    args = parser.parse_args()
    if args.command == "validate":
        sys.exit(command_validate(args))
    sys.exit(command_self_test(args))


if __name__ == "__main__":
    main()
