"""A generic client with no .proto files: it learns the services through
gRPC server reflection (grpcio-reflection), then calls GetRobot with message
classes built from the reflected descriptors.

Usage: reflection_client.py HOST:PORT PKI_DIR ROBOT_ID

Prints `service <name>` for every service the server lists, then
`robot <canonical id> <status>`, then `message <name>` for each google.rpc
error detail it resolved (with the files it imports) through reflection.
"""

import sys

from google.protobuf import descriptor_pool, json_format
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tls import channel


def main():
    address, pki, robot_id = sys.argv[1:4]
    ch = channel(address, pki)
    database = ProtoReflectionDescriptorDatabase(ch)
    services = database.get_services()
    for name in services:
        print(f"service {name}", flush=True)
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName("robotid.registry.v1.RegistryService").methods_by_name["GetRobot"]
    request_class = GetMessageClass(method.input_type)
    response_class = GetMessageClass(method.output_type)
    call = ch.unary_unary(
        "/robotid.registry.v1.RegistryService/GetRobot",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    robot = call(json_format.ParseDict({"robot_id": robot_id, "view": "ROBOT_VIEW_PUBLIC"}, request_class()))
    as_dict = json_format.MessageToDict(robot)
    print(f"robot {as_dict['robotId']} {as_dict['status']}", flush=True)
    for name in ("google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo"):
        print(f"message {pool.FindMessageTypeByName(name).full_name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
