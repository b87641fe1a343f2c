"""An example third-party slice: ``/v2.0/ethertype-blocks``, frames of one ethertype that no
port of a network may send (say, a lab network that must carry no LLDP or PTP).

Everything a plugin brings is here, and nothing in naas-sdn names it: the declaration (its
table, API attributes and the view the compiler gets), its one relational rule, its policy
rules, its API extension and its flow builder. It is found through the ``naas_sdn.plugins``
entry point and offered when ``service_plugins`` lists ``ethertype-block``.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Integer

from naas_sdn.features.networking.networks import network_reference
from naas_sdn.flows import compiler, ofp
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.inputs import PassInputs
from naas_sdn.flows.layout import Owner, Priority, Slice, Table, cookie
from naas_sdn.model import errors, schema
from naas_sdn.model.common import parse_int
from naas_sdn.model.schema import field
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_NET_OWNER, crud
from naas_sdn.northbound.resources import declared_resource

ETHERTYPE_MIN, ETHERTYPE_MAX = 0x0600, 0xFFFF  # below 0x0600 the field is an 802.3 length


class EthertypeBlockNotFound(errors.NotFound):
    message = "Ethertype block {id} could not be found."


def _ethertype(attr: str, value) -> int:
    """A number (JSON integer, decimal or 0x-hex text) naming an Ethernet II type."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str):
        text = value.strip().lower()
        number = int(text, 16) if text.startswith("0x") and _hex(text[2:]) else parse_int(text)
    if number is None or not ETHERTYPE_MIN <= number <= ETHERTYPE_MAX:
        raise a.invalid(attr, f"'{value}' is not an ethertype from 0x0600 to 0xffff")
    return number


def _hex(text: str) -> bool:
    return 0 < len(text) <= 4 and all(c in "0123456789abcdef" for c in text)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EthertypeBlock(schema.Standard):
    key: int = field(Integer, unique=True, visible=False)
    network_id: str = network_reference(on_delete="CASCADE")
    ethertype: int = field(Integer, post=True, validate=_ethertype, kind="integer")


@dataclasses.dataclass(frozen=True)
class EthertypeBlockView:
    key: int
    network_id: str
    ethertype: int


def _prepare(txn, ctx, attrs) -> dict:
    """A block belongs to its network's project (who may create one is the policy's
    ``admin_or_network_owner``)."""
    net = txn.service.get_network(ctx, attrs["network_id"])
    return {"network_id": net.id, "project_id": net.project_id}


ETHERTYPE_BLOCKS = schema.declare(
    schema.Resource(
        EthertypeBlock,
        "ethertype_blocks",
        "ethertype_block",
        path="ethertype-blocks",
        not_found=lambda block_id: EthertypeBlockNotFound(id=block_id),
        counter="ethertype_block_key",
        parent=schema.Parent("networks", "network_id"),
        prepare=_prepare,
        quota=20,
        view=lambda b: EthertypeBlockView(
            key=b.key, network_id=b.network_id, ethertype=b.ethertype
        ),
    )
)


# Above every port-security flow: a blocked frame is dropped whatever its port may send.
BLOCK_PRIORITY = Priority.PORTSEC_DENY + 100


class EthertypeBlocks(Builder):
    """One drop flow per block, on the switches where the network has a port: frames leave
    the network from there (fabric links carry only what ports sent)."""

    name = "ethertype-block"

    def add_shared(self, dpid: int, ports: tuple, inputs: PassInputs) -> Built:
        here = {bound.network.id: bound.network.key for bound in ports}
        return Built(
            frozenset(
                ofp.flow(
                    Table.PORT_SECURITY,
                    BLOCK_PRIORITY,
                    ofp.match(metadata=here[block.network_id], eth_type=block.ethertype),
                    (),
                    cookie(Owner.PLUGIN, block.key),
                )
                for block in inputs.extra.get("ethertype_blocks", {}).values()
                if block.network_id in here
            )
        )


def ethertype_block_plugin(service) -> Plugin:
    compiler.register_feature(
        EthertypeBlocks, Slice("ethertype-block", frozenset({Table.PORT_SECURITY}))
    )
    return Plugin(
        "ethertype-block",
        (declared_resource(service, ETHERTYPE_BLOCKS),),
        (
            Extension(
                "ethertype-blocks",
                "Network ethertype blocks",
                "Frames of one ethertype that no port of a network may send.",
            ),
        ),
        policy_rules=crud("ethertype_block", create=ADMIN_OR_NET_OWNER),
    )
