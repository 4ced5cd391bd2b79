"""Watches a service's gRPC health with grpcio-health-checking and prints
each status as it arrives, one per line, until the server ends the stream.

Usage: health_watch.py HOST:PORT PKI_DIR SERVICE_NAME

First a unary Check of the overall status ("" service) and of SERVICE_NAME,
printed as `check <service> <status>`; then `watch <status>` lines.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tls import channel


def main():
    address, pki, service = sys.argv[1:4]
    stub = health_pb2_grpc.HealthStub(channel(address, pki))
    for name in ("", service):
        answer = stub.Check(health_pb2.HealthCheckRequest(service=name))
        print(f"check {name or '-'} {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}", flush=True)
    try:
        for update in stub.Watch(health_pb2.HealthCheckRequest(service=service)):
            print(f"watch {health_pb2.HealthCheckResponse.ServingStatus.Name(update.status)}", flush=True)
    except grpc.RpcError as error:
        print(f"ended {error.code().name}", flush=True)
        return 0
    print("ended OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
