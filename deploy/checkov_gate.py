#!/usr/bin/env python3
"""The checkov part of deploy/check.sh: reads k8s/checkov-skips.txt, and
judges one overlay's checkov JSON report against it.

  checkov_gate.py skip-ids SKIPS README
      prints the check IDs skipped everywhere, comma-separated, for
      `checkov --skip-check` (after checking that the README explains every
      listed ID).
  checkov_gate.py judge SKIPS REPORT
      prints a summary and every failed check; exits 1 if a failure is
      neither skipped nor excused for its resource.
"""

import fnmatch
import json
import re
import sys

ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


def read_skips(path):
    """[(check_id, [resource globs] or None, reason)]"""
    skips = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            body, _, reason = line.partition("#")
            fields = body.split()
            if not fields:
                continue
            where = f"{path}:{number}"
            if not ID.match(fields[0]) or len(fields) > 2:
                sys.exit(f"{where}: expected `CHECK_ID [Kind/name,...]  # reason`")
            if not reason.strip():
                sys.exit(f"{where}: {fields[0]} has no reason")
            globs = fields[1].split(",") if len(fields) == 2 else None
            skips.append((fields[0], globs, reason.strip()))
    return skips


def resource_key(resource):
    # checkov names a Kubernetes resource Kind.namespace.name.
    parts = resource.split(".")
    return f"{parts[0]}/{parts[-1]}" if len(parts) >= 2 else resource


def skip_ids(skips_path, readme_path):
    skips = read_skips(skips_path)
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    missing = sorted({s[0] for s in skips if s[0] not in readme})
    if missing:
        sys.exit(
            f"{readme_path} does not explain: {', '.join(missing)} "
            f"(every exception in {skips_path} must be)"
        )
    print(",".join(s[0] for s in skips if s[1] is None))


def judge(skips_path, report_path):
    skips = read_skips(skips_path)
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as error:
        sys.exit(f"checkov wrote no readable report ({error})")
    reports = report if isinstance(report, list) else [report]
    reports = [r for r in reports if r.get("check_type", "kubernetes") == "kubernetes"]
    if not reports or "results" not in reports[0]:
        sys.exit("checkov scanned no Kubernetes resources")
    summary = reports[0]["summary"]
    failed = reports[0]["results"].get("failed_checks", [])
    if summary.get("parsing_errors"):
        sys.exit(f"checkov could not parse {summary['parsing_errors']} file(s)")

    excused, unexplained = [], []
    for check in failed:
        key = resource_key(check["resource"])
        reason = next(
            (
                reason
                for check_id, globs, reason in skips
                if check_id == check["check_id"]
                and globs is not None
                and any(fnmatch.fnmatchcase(key, g) for g in globs)
            ),
            None,
        )
        (excused if reason else unexplained).append((check, key))

    everywhere = [check_id for check_id, globs, _ in skips if globs is None]
    print(
        f"    checkov {summary.get('checkov_version', '?')}: "
        f"{summary['resource_count']} resources, {summary['passed']} passed, "
        f"{len(unexplained)} failed, {len(excused)} excused by "
        f"k8s/checkov-skips.txt (not run: {', '.join(everywhere) or 'none'})"
    )
    for check, key in excused:
        print(f"      excused {check['check_id']} on {key}")
    for check, key in unexplained:
        lines = check.get("file_line_range") or ["?", "?"]
        print(
            f"      FAILED {check['check_id']} \"{check['check_name']}\" on {key} "
            f"(rendered lines {lines[0]}-{lines[1]})"
        )
    if unexplained:
        print(
            "    fix the manifests, or list the check with its reason in "
            "deploy/k8s/checkov-skips.txt and deploy/k8s/README.md"
        )
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "skip-ids":
        skip_ids(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "judge":
        judge(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
