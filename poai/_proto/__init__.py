"""Generated gRPC stubs for proto/poai.proto. Do not edit: run `python scripts/gen_proto.py`."""
