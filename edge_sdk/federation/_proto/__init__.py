"""Generated gRPC stubs for proto/federation.proto. Do not edit: run `python scripts/gen_proto.py`."""
