"""A registry client built by another toolchain: Python stubs generated from
proto/ with grpcio-tools, calling a running registry.

Usage: registry_client.py HOST:PORT PKI_DIR

Calls over mutual TLS, with the development PKI's certificate of the role
each call needs (PKI_DIR/ca.crt, PKI_DIR/<role>.crt, PKI_DIR/<role>.key).

Registers robots, resolves them in both views, walks one through a full life,
and checks that the lifecycle rules refuse what they must, with the status
code and the machine-readable reason of google.rpc.ErrorInfo. Prints
"N passed, N failed" and exits non-zero on any failure.
"""

import importlib
import pathlib
import sys
import tempfile
import uuid

import grpc
from grpc_status import rpc_status
from grpc_tools import protoc
from google.rpc import error_details_pb2

import tls

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"


def generate_stubs():
    out = pathlib.Path(tempfile.mkdtemp(prefix="robotid-py-"))
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto")]
    code = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", *files]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, str(out))
    common = importlib.import_module("robotid.common.v1.common_pb2")
    registry = importlib.import_module("robotid.registry.v1.registry_service_pb2")
    registry_grpc = importlib.import_module("robotid.registry.v1.registry_service_pb2_grpc")
    return common, registry, registry_grpc


ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def check_character(data):
    """ISO/IEC 7064 MOD 37,36, written here from the standard, independently
    of the Rust implementation."""
    product = 36
    for ch in data:
        total = (product + ALPHABET.index(ch)) % 36 or 36
        product = (total * 2) % 37
    return ALPHABET[(37 - product) % 36]


def robot_id(n):
    sequence = ""
    for _ in range(16):
        sequence = ALPHABET[n % 36] + sequence
        n //= 36
    first = "CN" + "0001" + "PY0001" + sequence
    return first + check_character(first)


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {name} {detail}", file=sys.stderr)


def error_reason(error):
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return None


def refused(results, name, call, code, reason):
    try:
        call()
    except grpc.RpcError as error:
        results.check(f"{name}: code", error.code() == code, f"got {error.code()}")
        results.check(f"{name}: reason", error_reason(error) == reason, f"got {error_reason(error)}")
        return
    results.check(f"{name}: refused", False, "the call succeeded")


def stub_as(registry_grpc, address, pki, identity):
    """A stub over TLS presenting `identity`'s certificate, or none."""
    return registry_grpc.RegistryServiceStub(tls.channel(address, pki, identity))


def main():
    common, registry, registry_grpc = generate_stubs()
    results = Results()
    address, pki = sys.argv[1], pathlib.Path(sys.argv[2])
    as_ = lambda identity: stub_as(registry_grpc, address, pki, identity)
    public, regulator = as_(None), as_("regulator")
    E = common.EventType
    recorder = {
        E.EVENT_TYPE_RELEASED_TO_MARKET: as_("manufacturer"),
        E.EVENT_TYPE_SOLD: as_("seller"),
        E.EVENT_TYPE_MAINTENANCE_PERFORMED: as_("service-provider"),
        E.EVENT_TYPE_DECOMMISSIONED: as_("operator"),
        E.EVENT_TYPE_RECYCLED: as_("recycler"),
    }

    ids = [robot_id(n) for n in range(1, 4)]
    answer = as_("issuance").RegisterRobots(
        registry.RegisterRobotsRequest(
            request_id=str(uuid.uuid4()),
            robots=[
                registry.RobotRegistration(
                    robot_id=i,
                    manufacturer_name="Python Robotics",
                    model_name="Interop One",
                    production=common.Production(factory="line 1"),
                )
                for i in ids
            ],
        )
    )
    results.check("registered", answer.registered_count == 3, str(answer))

    display = f"{ids[0][:2]}-{ids[0][2:6]}-{ids[0][6:12]}-{ids[0][12:]}".lower()
    card = public.GetRobot(registry.GetRobotRequest(robot_id=display, view=registry.ROBOT_VIEW_PUBLIC))
    results.check("public view resolves typed input", card.robot_id == ids[0])
    results.check("public card", card.model_name == "Interop One" and card.status == common.ROBOT_STATUS_REGISTERED)
    results.check("public card hides the factory", card.production.factory == "")
    refused(
        results,
        "the public gets no full record",
        lambda: public.GetRobot(registry.GetRobotRequest(robot_id=ids[0], view=registry.ROBOT_VIEW_FULL)),
        grpc.StatusCode.UNAUTHENTICATED,
        "IDENTITY_REQUIRED",
    )
    full = regulator.GetRobot(registry.GetRobotRequest(robot_id=ids[0], view=registry.ROBOT_VIEW_FULL))
    results.check("full view", full.production.factory == "line 1" and full.event_count == 1)

    def record(robot, kind, **details):
        return recorder[kind].RecordEvent(
            registry.RecordEventRequest(
                request_id=str(uuid.uuid4()), robot_id=robot, type=kind, details=registry.EventDetails(**details)
            )
        )

    life = [
        (E.EVENT_TYPE_RELEASED_TO_MARKET, {}),
        (E.EVENT_TYPE_SOLD, {"holder": common.Holder(private_reference="py-customer-1")}),
        (E.EVENT_TYPE_MAINTENANCE_PERFORMED, {"note": "first service"}),
        (E.EVENT_TYPE_DECOMMISSIONED, {}),
        (E.EVENT_TYPE_RECYCLED, {}),
    ]
    for kind, details in life:
        event = record(ids[0], kind, **details)
        results.check(f"recorded {kind}", event.type == kind)
    full = regulator.GetRobot(registry.GetRobotRequest(robot_id=ids[0], view=registry.ROBOT_VIEW_FULL))
    results.check("recycled", full.status == common.ROBOT_STATUS_RECYCLED and full.event_count == 6)
    results.check(
        "private holder stored as a hash",
        full.holder.WhichOneof("kind") == "private_reference_hash" and "py-customer" not in str(full),
    )

    refused(
        results,
        "recycled robot takes no event",
        lambda: record(ids[0], E.EVENT_TYPE_MAINTENANCE_PERFORMED),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROBOT_RECYCLED",
    )
    record(ids[1], E.EVENT_TYPE_RELEASED_TO_MARKET)
    # A recall is opened by CreateRecall (RECALL_ISSUED is not recorded
    # directly), and its reason is on the public card.
    recall = as_("manufacturer").CreateRecall(
        registry.CreateRecallRequest(
            request_id=str(uuid.uuid4()),
            manufacturer_code="0001",
            model_code="PY0001",
            robot_ids=[ids[1]],
            reason="python recall",
        )
    )
    results.check("recall holds the robot", recall.affected_robot_count == 1, str(recall))
    card = public.GetRobot(registry.GetRobotRequest(robot_id=ids[1], view=registry.ROBOT_VIEW_PUBLIC))
    results.check(
        "card shows the open recall",
        card.recalled and [r.reason for r in card.open_recalls] == ["python recall"],
        str(card),
    )
    refused(
        results,
        "recalled robot is not sold",
        lambda: record(ids[1], E.EVENT_TYPE_SOLD, holder=common.Holder(organization_id="ACME")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "RECALL_OPEN",
    )
    refused(
        results,
        "malformed code",
        lambda: public.GetRobot(registry.GetRobotRequest(robot_id="CN-0001")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    history = regulator.ListEvents(registry.ListEventsRequest(robot_id=ids[0], page_size=2))
    results.check("paged history", len(history.events) == 2 and history.next_page_token != "")
    verdict = regulator.VerifyHistory(registry.VerifyHistoryRequest(robot_id=ids[0]))
    results.check("history verifies", verdict.intact and verdict.event_count == 6)

    print(f"python interop: {results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
