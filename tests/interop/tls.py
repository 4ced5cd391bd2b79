"""Mutual TLS channels for the interop clients, from a development PKI."""

import pathlib

import grpc


def channel(address, pki, identity=None):
    """A channel to `address` presenting `identity`'s certificate, or none."""
    pki = pathlib.Path(pki)
    read = lambda name: (pki / name).read_bytes()
    if identity is None:
        credentials = grpc.ssl_channel_credentials(root_certificates=read("ca.crt"))
    else:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read("ca.crt"),
            private_key=read(f"{identity}.key"),
            certificate_chain=read(f"{identity}.crt"),
        )
    return grpc.secure_channel(address, credentials, options=[("grpc.ssl_target_name_override", "localhost")])
