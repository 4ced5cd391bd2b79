"""What tlog_audit.py and tlog_proof_verify.py share, written from the
public specs alone: RFC 6962 hashing, c2sp.org/signed-note (Ed25519 type
0x01 and tlog-cosignature type 0x04 keys) and c2sp.org/tlog-checkpoint.
Needs the `cryptography` package for Ed25519 (Python's standard library
has none).
"""

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519, COSIGNATURE = 0x01, 0x04


class Refused(Exception):
    """Something the specs say to refuse; the message says what."""


def fail(why):
    raise Refused(why)


def b64(text):
    """Canonical standard base64 (RFC 4648 section 4), as C2SP writes it."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        fail(f"not base64: {text!r}")
    if base64.b64encode(raw).decode() != text:
        fail(f"not canonical base64: {text!r}")
    return raw


def decimal(text):
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        fail(f"not a decimal without leading zeroes: {text!r}")
    return int(text)


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Key:
    """A verifier key, `name+hex(key ID)+base64(type || public key)`."""

    def __init__(self, vkey, expected_type):
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            fail(f"not a verifier key: {vkey!r}")
        self.name, raw = parts[0], b64(parts[2])
        if not self.name or "+" in self.name or any(c.isspace() for c in self.name):
            fail(f"bad key name in {vkey!r}")
        if len(raw) != 33 or raw[0] != expected_type:
            fail(f"{vkey!r} is not a type {expected_type:#04x} Ed25519 key")
        self.type, self.raw = raw[0], raw[1:]
        # key ID = SHA-256(name || 0x0A || type || public key)[:4]
        self.key_id = int.from_bytes(hashlib.sha256(self.name.encode() + b"\n" + raw).digest()[:4], "big")
        try:
            stated = int(parts[1], 16)
        except ValueError:
            fail(f"bad key ID in {vkey!r}")
        if stated != self.key_id:
            fail(f"the key ID of {vkey!r} does not match its key")
        self.public_key = Ed25519PublicKey.from_public_bytes(self.raw)

    def verifies(self, body, signature):
        """Whether `signature` (the bytes after the key ID) is this key's
        over the note text `body`."""
        if self.type == COSIGNATURE:
            # timestamp (u64, big-endian) || Ed25519 over cosignature/v1
            if len(signature) != 72:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > 2**63 - 1:
                return False
            message = f"cosignature/v1\ntime {timestamp}\n".encode() + body
            signature = signature[8:]
        else:
            message = body
        try:
            self.public_key.verify(signature, message)
            return True
        except InvalidSignature:
            return False


def parse_note(data):
    """A signed note's text (bytes, final newline included) and its
    signatures as (name, key ID, signature bytes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("the note is not UTF-8")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        fail("the note has control characters")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        fail("the note has no signature block")
    body, block = text[: split + 1], text[split + 2 :]
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith("\u2014 ") or line.count(" ") != 2:
            fail(f"malformed signature line {line!r}")
        name, encoded = line[2:].split(" ")
        raw = b64(encoded)
        if len(raw) < 5:
            fail("a signature shorter than its key ID")
        signatures.append((name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return body.encode(), signatures


def signers(body, signatures, keys):
    """The keys among `keys` whose signature verifies. A trusted key's bad
    signature refuses the note, as signed-note recommends; signatures of
    other keys (same name or same ID, not both) are ignored."""
    signed = []
    for name, key_id, signature in signatures:
        for key in keys:
            if key.name == name and key.key_id == key_id:
                if not key.verifies(body, signature):
                    fail(f"the signature of {name} does not verify")
                if key not in signed:
                    signed.append(key)
    return signed


def parse_checkpoint(body):
    """(origin, size, root) of a checkpoint's note text."""
    lines = body.decode()[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        fail("a checkpoint is origin, size, root and non-empty extension lines")
    root = b64(lines[2])
    if len(root) != 32:
        fail("the root is not 32 bytes")
    return lines[0], decimal(lines[1]), root
