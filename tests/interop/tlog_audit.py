"""Audits a transparency log over HTTP, written from the public specs alone
(c2sp.org/tlog-tiles, tlog-checkpoint, signed-note, RFC 6962), not from
Robot ID's code.

Usage: tlog_audit.py PREFIX VKEY [--since FILE] [--save FILE]

PREFIX is the log's URL prefix (a registry's `{web}/log/`); VKEY the log's
signed-note verifier key (`name+hex(key ID)+base64(0x01 || public key)`),
or a file that holds it.

The audit fetches `checkpoint` and verifies its Ed25519 signature; fetches
every level-0 tile and entry bundle of its size and checks that every entry
hashes to its leaf hash; checks every higher tile against the full tiles
below it; and recomputes the root from the leaves. With `--since FILE` (a
checkpoint saved earlier, signed by the same key) it checks that the log
extends it: the first `size` leaves of today's tree have its root. `--save
FILE` writes the fetched checkpoint, for the next `--since`.

Prints `ok <origin> <size> <root>` and exits 0, or `FAIL: <why>` and exits 1.
Needs Python 3 and the `cryptography` package (for Ed25519).
"""

import argparse
import base64
import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request

from c2sp import ED25519, Key, Refused, fail, leaf_hash, node_hash, parse_checkpoint, parse_note, signers

TILE_WIDTH = 256


def tree_root(leaves):
    """MTH(D[n]) of RFC 6962 2.1: complete subtrees are merged as they fill,
    then the rest folded from the right, which is where the recursion's
    largest-power-of-two split puts them."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    stack = []  # (height, hash), heights strictly decreasing
    for leaf in leaves:
        height, node = 0, leaf
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    root = stack.pop()[1]
    while stack:
        root = node_hash(stack.pop()[1], root)
    return root


def verified_checkpoint(note, key):
    """(origin, size, root) of a checkpoint the log's key signed."""
    body, signatures = parse_note(note)
    if key not in signers(body, signatures, [key]):
        fail(f"the checkpoint carries no signature by {key.name}")
    return parse_checkpoint(body)


# --- c2sp.org/tlog-tiles -----------------------------------------------------


def index_path(n):
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def tile_path(level, n, width):
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    kind = "entries" if level is None else str(level)
    return f"tile/{kind}/{index_path(n)}{suffix}"


def fetch(prefix, path, content_type):
    request = urllib.request.Request(prefix + path, headers={"Accept-Encoding": "gzip, identity"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            got_type = response.headers.get("Content-Type", "")
            if got_type.split(";")[0].strip() != content_type:
                fail(f"{path}: Content-Type {got_type!r}, not {content_type}")
            data = response.read()
            if response.headers.get("Content-Encoding", "identity") == "gzip":
                data = gzip.decompress(data)
            return data, got_type
    except urllib.error.HTTPError as error:
        fail(f"{path}: HTTP {error.code}")
    except urllib.error.URLError as error:
        fail(f"{path}: {error.reason}")


def split_hashes(path, data, width):
    if len(data) != width * 32:
        fail(f"{path}: {len(data)} bytes, not {width} hashes")
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def decode_bundle(path, data):
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            fail(f"{path}: truncated entry length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            fail(f"{path}: truncated entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


def audit(prefix, vkey, since):
    note, content_type = fetch(prefix, "checkpoint", "text/plain")
    if "charset=utf-8" not in content_type.replace(" ", "").lower():
        fail(f"checkpoint: Content-Type {content_type!r} lacks charset=utf-8")
    origin, size, root = verified_checkpoint(note, vkey)

    leaves = []
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        path = tile_path(0, n, width)
        hashes = split_hashes(path, fetch(prefix, path, "application/octet-stream")[0], width)
        bundle_path = tile_path(None, n, width)
        entries = decode_bundle(bundle_path, fetch(prefix, bundle_path, "application/octet-stream")[0])
        if len(entries) != width:
            fail(f"{bundle_path}: {len(entries)} entries, not {width}")
        for i, (entry, hashed) in enumerate(zip(entries, hashes)):
            if leaf_hash(entry) != hashed:
                fail(f"entry {n * TILE_WIDTH + i} does not hash to its level-0 tile")
        leaves.extend(hashes)

    # A level-l hash is the root of a full level-(l-1) tile.
    below, level = leaves, 1
    while size >> (8 * level) > 0:
        count = size >> (8 * level)
        expected = [tree_root(below[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]) for i in range(count)]
        fetched = []
        for n in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, count - n * TILE_WIDTH)
            path = tile_path(level, n, width)
            fetched.extend(split_hashes(path, fetch(prefix, path, "application/octet-stream")[0], width))
        if fetched != expected:
            fail(f"the level-{level} tiles are not the roots of the tiles below")
        below, level = expected, level + 1

    if tree_root(leaves) != root:
        fail("the leaves do not give the checkpoint's root")

    if since is not None:
        old_origin, old_size, old_root = verified_checkpoint(since, vkey)
        if old_origin != origin:
            fail(f"the saved checkpoint is of another log ({old_origin})")
        if old_size > size:
            fail(f"the log shrank from {old_size} to {size}")
        if tree_root(leaves[:old_size]) != old_root:
            fail(f"the log does not extend the saved checkpoint of size {old_size}")
    return origin, size, root, note


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix")
    parser.add_argument("vkey")
    parser.add_argument("--since", help="a checkpoint saved earlier, to check the log extends")
    parser.add_argument("--save", help="where to write the fetched checkpoint")
    args = parser.parse_args()
    prefix = args.prefix if args.prefix.endswith("/") else args.prefix + "/"
    vkey_text = args.vkey
    if os.path.isfile(vkey_text):
        with open(vkey_text, encoding="utf-8") as file:
            vkey_text = file.read()
    try:
        vkey = Key(vkey_text, ED25519)
        since = None
        if args.since:
            with open(args.since, "rb") as file:
                since = file.read()
        origin, size, root, note = audit(prefix, vkey, since)
    except Refused as failure:
        print(f"FAIL: {failure}", flush=True)
        return 1
    if args.save:
        with open(args.save, "wb") as file:
            file.write(note)
    print(f"ok {origin} {size} {base64.b64encode(root).decode()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
