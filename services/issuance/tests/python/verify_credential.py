"""Verifies a Robot ID credential with pycose, a COSE implementation that
shares no code with Robot ID, to show that the credentials are standard
COSE_Sign1 (RFC 9052) and not just what our own verifier accepts.

Usage: verify_credential.py PUBLIC_KEY CREDENTIAL

Each argument is hex, or the path of a file holding hex: PUBLIC_KEY the raw
32-byte Ed25519 public key, CREDENTIAL the tagged COSE_Sign1.

Prints the verified claims as JSON and exits 0; exits 1, saying why, when
the credential does not verify.
"""

import json
import os
import sys
from collections.abc import Mapping

import cbor2
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

CONTENT_TYPE = "application/robotid-id+cbor"
# Claim keys of the payload map, as the Rust crate robotid-credential
# writes them.
CLAIMS = {
    1: "robot_id",
    2: "manufacturer",
    3: "model",
    4: "issued_at",
    5: "issuer_country",
    6: "kid",
}


def hex_argument(value):
    if os.path.exists(value):
        with open(value, encoding="ascii") as file:
            value = file.read()
    return bytes.fromhex(value.strip())


def decode(credential):
    try:
        return Sign1Message.decode(credential)
    except TypeError:
        # cbor2 6 decodes the array inside a tag as a tuple (its map as a
        # frozendict); pycose 1.1 expects the list and dict of cbor2 5.
        # Hand pycose the same items in those types.
        tagged = cbor2.loads(credential)
        if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != Sign1Message.cbor_tag:
            raise
        items = [dict(item) if isinstance(item, Mapping) else item for item in tagged.value]
        return Sign1Message.from_cose_obj(items, True)


def verify(public_key, credential):
    message = decode(credential)
    message.key = OKPKey(crv=Ed25519, x=public_key)
    if message.phdr.get(Algorithm) is not EdDSA:
        raise ValueError(f"algorithm {message.phdr.get(Algorithm)}, expected EdDSA")
    if message.phdr.get(ContentType) != CONTENT_TYPE:
        raise ValueError(f"content type {message.phdr.get(ContentType)!r}")
    if not message.verify_signature():
        raise ValueError("the signature does not verify")
    payload = cbor2.loads(message.payload)
    claims = {CLAIMS[key]: value for key, value in payload.items()}
    claims["kid"] = claims["kid"].hex()
    claims["header_kid"] = message.phdr[KID].hex()
    return claims


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        claims = verify(hex_argument(argv[1]), hex_argument(argv[2]))
    except Exception as error:  # any failure to decode or verify is a refusal
        print(f"credential refused: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
