"""GetRobot load from Python's grpcio, independently of the Rust bench.

Usage: resolve_load.py HOST:PORT PKI_DIR ROBOT_IDS_FILE [--seconds N] [--concurrency N]

Anonymous TLS (no client certificate, as a phone scanning a robot),
public view, robots taken in turn from ROBOT_IDS_FILE (one code a line,
as `robotid-bench serve` writes it). Prints calls a second and p50/p99/max
latency; exits non-zero if any call failed. One Python process is itself
the bottleneck long before the registry is: it shows the service speaks
standard gRPC under load, not the service's ceiling.
"""

import argparse
import asyncio
import pathlib
import time

import grpc

from registry_client import generate_stubs


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("pki")
    parser.add_argument("robot_ids")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    _, registry, registry_grpc = generate_stubs()
    ids = pathlib.Path(args.robot_ids).read_text().split()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pathlib.Path(args.pki) / "ca.crt").read_bytes()
    )
    latencies, errors = [], []
    async with grpc.aio.secure_channel(
        args.address, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    ) as channel:
        stub = registry_grpc.RegistryServiceStub(channel)
        deadline = time.monotonic() + args.seconds
        counter = iter(range(1 << 62))

        async def worker():
            while time.monotonic() < deadline:
                robot = ids[next(counter) % len(ids)]
                sent = time.perf_counter()
                try:
                    answer = await stub.GetRobot(
                        registry.GetRobotRequest(robot_id=robot, view=registry.ROBOT_VIEW_PUBLIC)
                    )
                    assert answer.robot_id == robot, answer
                    latencies.append(time.perf_counter() - sent)
                except grpc.RpcError as error:
                    errors.append(error)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    quantile = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(
        f"{len(latencies) / elapsed:.0f} calls/s  p50 {quantile(0.5):.2f} ms  "
        f"p99 {quantile(0.99):.2f} ms  max {1000 * latencies[-1]:.2f} ms  "
        f"({len(latencies)} calls, {len(errors)} errors)"
    )
    if errors:
        raise SystemExit(f"first error: {errors[0]}")


if __name__ == "__main__":
    asyncio.run(main())
