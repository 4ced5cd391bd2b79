"""Verifies a c2sp.org/tlog-proof bundle offline against a c2sp.org/tlog-policy
file, written from the public specs alone (tlog-proof, tlog-policy,
tlog-checkpoint, tlog-cosignature, signed-note, RFC 9162), not from Robot
ID's code.

Usage: tlog_proof_verify.py PROOF POLICY [--entry FILE | --leaf-hash BASE64]

The entry whose inclusion is proved is FILE's bytes, or given by its RFC 6962
leaf hash; with neither, the bundle's `extra` data is taken as the entry (as
Robot ID writes its bundles: the inclusion proof then vouches for it).

The checkpoint must be signed by a log of the policy whose key name is its
origin, and cosigned (`cosignature/v1`, type 0x04 keys) as the policy's
quorum demands; the inclusion proof must lead from the entry at the bundle's
index to the checkpoint's root.

Prints `ok index <i> size <n> cosigned by <names>` and exits 0, or
`FAIL: <why>` and exits 1. Needs Python 3 and the `cryptography` package.
"""

import argparse
import sys

from c2sp import COSIGNATURE, ED25519, Key, Refused, b64, decimal, fail, leaf_hash, node_hash, parse_checkpoint, parse_note, signers

HEADER = "c2sp.org/tlog-proof@v1"


# --- c2sp.org/tlog-policy -----------------------------------------------------


class Policy:
    def __init__(self, data):
        self.logs, self.witnesses, self.groups, self.quorum = [], {}, {}, None
        for number, raw in enumerate(data.split(b"\n"), 1):
            if any((b < 0x20 and b != 0x09) or b == 0x7F for b in raw):
                fail(f"policy line {number}: a control character")
            items = raw.replace(b"\t", b" ").split()
            if not items or items[0].startswith(b"#"):
                continue
            try:
                self.line(number, [item.decode("utf-8") for item in items])
            except UnicodeDecodeError:
                fail(f"policy line {number}: not UTF-8")
        if self.quorum is None:
            fail("the policy has no quorum line")

    def defined(self, name):
        return name in self.witnesses or name in self.groups

    def line(self, number, items):
        keyword, args = items[0], items[1:]
        if keyword == "log" and len(args) in (1, 2):
            key = Key(args[0], ED25519)
            if any(log.raw == key.raw for log in self.logs):
                fail(f"policy line {number}: a log listed twice")
            self.logs.append(key)
        elif keyword == "witness" and len(args) in (2, 3):
            name, key = args[0], Key(args[1], COSIGNATURE)
            if name == "none" or self.defined(name):
                fail(f"policy line {number}: name {name!r} taken")
            if any(w.raw == key.raw for w in self.witnesses.values()):
                fail(f"policy line {number}: a witness listed twice")
            self.witnesses[name] = key
        elif keyword == "group" and len(args) >= 3:
            name, threshold, members = args[0], args[1], args[2:]
            if name == "none" or self.defined(name):
                fail(f"policy line {number}: name {name!r} taken")
            if len(set(members)) != len(members) or not all(self.defined(m) for m in members):
                fail(f"policy line {number}: members must be distinct names defined before")
            k = {"all": len(members), "any": 1}.get(threshold)
            if k is None:
                k = decimal(threshold)
                if not 1 <= k <= len(members):
                    fail(f"policy line {number}: threshold out of range")
            self.groups[name] = (k, members)
        elif keyword == "quorum" and len(args) == 1:
            if self.quorum is not None:
                fail(f"policy line {number}: a second quorum")
            if args[0] != "none" and not self.defined(args[0]):
                fail(f"policy line {number}: the quorum must be defined before")
            self.quorum = args[0]
        else:
            fail(f"policy line {number}: not a policy line")

    def satisfied(self, name, cosigned):
        if name == "none":
            return True
        if name in self.groups:
            k, members = self.groups[name]
            return sum(self.satisfied(m, cosigned) for m in members) >= k
        return name in cosigned


# --- c2sp.org/tlog-proof ------------------------------------------------------


def parse_bundle(data):
    text = data.decode("utf-8")
    lines = text.split("\n")
    if lines[0] != HEADER:
        fail(f"the first line is not {HEADER}")
    at, extra = 1, None
    if lines[at].startswith("extra "):
        extra = b64(lines[at][len("extra ") :])
        at += 1
    if not lines[at].startswith("index "):
        fail("no index line")
    index = decimal(lines[at][len("index ") :])
    at += 1
    proof = []
    while at < len(lines) and lines[at] != "":
        hashed = b64(lines[at])
        if len(hashed) != 32:
            fail("a proof line is not a 32-byte hash")
        proof.append(hashed)
        at += 1
    if at >= len(lines):
        fail("no blank line before the checkpoint")
    return extra, index, proof, "\n".join(lines[at + 1 :])


def root_from_inclusion_proof(index, size, leaf, proof):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        fail(f"index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            fail("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail("the inclusion proof is too short")
    return r


def verify(bundle_data, policy, entry, given_leaf_hash):
    extra, index, proof, note = parse_bundle(bundle_data)
    body, signatures = parse_note(note.encode())
    origin, size, root = parse_checkpoint(body)

    log_keys = [key for key in policy.logs if key.name == origin]
    if not log_keys:
        fail(f"the policy lists no log {origin!r}")
    signed = signers(body, signatures, log_keys + list(policy.witnesses.values()))
    if not any(key in signed for key in log_keys):
        fail("the checkpoint is not signed by the log")
    cosigned = [name for name, key in policy.witnesses.items() if key in signed]
    if not policy.satisfied(policy.quorum, cosigned):
        fail(f"the quorum {policy.quorum!r} is not met (cosigned by {cosigned})")

    if given_leaf_hash is None:
        if entry is None:
            if extra is None:
                fail("no entry given and no extra data in the bundle")
            entry = extra
        leaf = leaf_hash(entry)
    else:
        leaf = given_leaf_hash
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        fail("the inclusion proof does not lead to the checkpoint's root")
    return index, size, cosigned


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("proof")
    parser.add_argument("policy")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--entry", help="file holding the log entry")
    group.add_argument("--leaf-hash", help="the entry's leaf hash, base64")
    args = parser.parse_args()
    try:
        with open(args.proof, "rb") as file:
            bundle = file.read()
        with open(args.policy, "rb") as file:
            policy = Policy(file.read())
        entry = None
        if args.entry:
            with open(args.entry, "rb") as file:
                entry = file.read()
        given = b64(args.leaf_hash) if args.leaf_hash else None
        index, size, cosigned = verify(bundle, policy, entry, given)
    except (Refused, UnicodeDecodeError, IndexError) as refused:
        print(f"FAIL: {refused}", flush=True)
        return 1
    print(f"ok index {index} size {size} cosigned by {' '.join(cosigned) or 'nobody'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
