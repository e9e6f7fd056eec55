"""The signed link from a miner to the PoAI node that backs it.

The node's key signs (domain, netuid, miner hotkey, node id), so a miner cannot claim another operator's honest
node: without that node's signature the link does not verify and the miner has no integrity. A miner whose own
hotkey is the node's id needs no link. Byte layout (any language reproduces it):

    "edgeproof-node-link/v1" || u32(netuid) || lp(miner_hotkey) || lp(node_id) || lp(scheme) || lp(public_key)

lp(x) = u32(len(x)) || x, big-endian; strings UTF-8.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass

from edge_sdk.identity import NodeKey
from edge_sdk.identity.hello import lp, lp_str
from edge_sdk.identity.keys import expected_node_id, verify_signature

LINK_DOMAIN = b"edgeproof-node-link/v1"


def link_bytes(netuid: int, miner_hotkey: str, node_id: str, scheme: str, public_key: bytes) -> bytes:
    return LINK_DOMAIN + struct.pack(">I", netuid) + lp_str(miner_hotkey) + lp_str(node_id) + lp_str(scheme) + \
        lp(public_key)


@dataclass(frozen=True)
class NodeLink:
    netuid: int
    miner_hotkey: str
    node_id: str
    scheme: str
    public_key: str  # hex
    signature: str  # hex

    @classmethod
    def sign(cls, node_key: NodeKey, miner_hotkey: str, netuid: int) -> NodeLink:
        message = link_bytes(netuid, miner_hotkey, node_key.node_id, node_key.scheme, node_key.public_key)
        return cls(netuid, miner_hotkey, node_key.node_id, node_key.scheme, node_key.public_key.hex(),
                   node_key.sign(message).hex())

    def problem(self, netuid: int, miner_hotkey: str) -> str | None:
        """Why this link does not back `miner_hotkey` on `netuid` (None: it does)."""
        if self.netuid != netuid or self.miner_hotkey != miner_hotkey:
            return f"the link is for miner {self.miner_hotkey} on subnet {self.netuid}"
        try:
            public_key = bytes.fromhex(self.public_key)
            if expected_node_id(self.scheme, public_key) != self.node_id:
                return "the link's node id does not belong to its public key"
            message = link_bytes(self.netuid, self.miner_hotkey, self.node_id, self.scheme, public_key)
            if not verify_signature(self.scheme, public_key, message, bytes.fromhex(self.signature)):
                return "the link's signature does not verify"
        except (ValueError, TypeError) as exc:
            return f"the link is malformed: {exc}"
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> NodeLink:
        data = json.loads(text)
        return cls(int(data["netuid"]), str(data["miner_hotkey"]), str(data["node_id"]), str(data["scheme"]),
                   str(data["public_key"]), str(data["signature"]))
