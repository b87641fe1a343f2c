"""Flows read back from a switch compare equal to the compiled ones: what a restart relies on
to send nothing for an unchanged model."""

from __future__ import annotations

from types import SimpleNamespace

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofproto
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import codec
from naas_sdn.flows import ofp
from naas_sdn.flows.answers import arp_answer
from naas_sdn.flows.layout import Owner, Table, cookie
from naas_sdn.model.snapshot import NetworkView

DATAPATH = SimpleNamespace(ofproto=ofproto, ofproto_parser=parser)


def _as_ovs_reports(actions: list) -> list:
    """OVS reports a move of Ethernet and ARP fields in their Nicira encoding."""
    return [
        parser.NXActionRegMove(
            src_field=a.src_field + "_nxm",
            dst_field=a.dst_field + "_nxm",
            n_bits=a.n_bits,
            src_ofs=a.src_ofs,
            dst_ofs=a.dst_ofs,
        )
        if isinstance(a, parser.NXActionRegMove)
        else a
        for a in actions
    ]


def test_an_arp_answer_read_back_in_nicira_fields_is_the_compiled_one():
    network = NetworkView("n", "p", 7, True)
    compiled = arp_answer(network, "10.0.0.5", "fa:16:3e:00:00:05", cookie(Owner.PORT, 5))
    mod = codec.flow_add(DATAPATH, compiled, compiled.cookie)
    instructions = [
        parser.OFPInstructionActions(i.type, _as_ovs_reports(i.actions))
        if isinstance(i, parser.OFPInstructionActions)
        else i
        for i in mod.instructions
    ]
    assert any(
        isinstance(a, parser.NXActionRegMove) and a.src_field.endswith("_nxm")
        for i in instructions
        for a in getattr(i, "actions", ())
    )
    read = _read_back(mod, instructions)
    assert (read.key, read.body) == (compiled.key, compiled.body)


def _read_back(mod, instructions) -> ofp.Flow:
    """The flow a switch holding ``mod`` with ``instructions`` reports."""
    stats = parser.OFPFlowStats(
        table_id=mod.table_id,
        priority=mod.priority,
        cookie=mod.cookie,
        match=mod.match,
        instructions=instructions,
    )
    return codec.parse_flow(stats)


def test_standard_match_fields_go_on_the_wire_before_nicira_ones():
    """OVS checks each field's prerequisites against those before it (nw_ttl needs
    eth_type): os-ken alone would put the Nicira ones (registers, nw_ttl) first."""
    owner = cookie(Owner.PORT, 1)
    flow = ofp.flow(
        20, 100, ofp.match(reg6=1, metadata=10, eth_type=0x0800, nw_ttl=1, ip_proto=1), (), owner
    )
    msg = codec.flow_add(DATAPATH, flow, owner)
    msg.xid = 1
    msg.serialize()
    version, msg_type, length, xid = ofproto_parser.header(msg.buf)
    sent = ofproto_parser.msg(DATAPATH, version, msg_type, length, xid, msg.buf)
    names = [name for name, _ in sent.match._fields2]
    assert set(names[:3]) == {"metadata", "eth_type", "ip_proto"}  # OpenFlow's own
    assert set(names[3:]) == {"reg6", "nw_ttl"}  # Nicira's


def test_conntrack_actions_read_back_as_compiled():
    """NAT on commit and on lookup, and a stateless port's ct_clear."""
    zone = (ofp.set_field("reg4", 0xFFF8),)
    compiled = {
        ofp.flow(
            Table.INGRESS_POLICY,
            110,
            ofp.match(reg7=3, eth_type=0x0800),
            (ofp.apply(ofp.ct_clear()), ofp.goto(Table.INGRESS_ACL)),
            cookie(Owner.PORT, 3),
        ),
        ofp.flow(
            Table.L2_LOOKUP,
            110,
            ofp.match(metadata=20, eth_type=0x0800),
            (ofp.apply(*zone, ofp.ct("reg4", Table.GATEWAY_NAT, nat=())),),
            cookie(Owner.ROUTER, 7),
        ),
        ofp.flow(
            Table.GATEWAY_NAT,
            200,
            ofp.match(reg5=7, ipv4_src="10.0.0.6", eth_type=0x0800),
            (
                ofp.apply(ofp.ct("reg4", commit=True, nat=("src", "172.24.4.20"))),
                ofp.goto(Table.OUTPUT),
            ),
            cookie(Owner.ROUTER, 7),
        ),
        ofp.flow(
            Table.ROUTING,
            460,
            ofp.match(reg5=7, ipv4_dst="172.24.4.20", eth_type=0x0800),
            (ofp.apply(ofp.ct("reg4", Table.ROUTING, commit=True, nat=("dst", "10.0.0.6"))),),
            cookie(Owner.ROUTER, 7),
        ),
    }
    for flow in compiled:
        mod = codec.flow_add(DATAPATH, flow, flow.cookie)
        buf = bytearray()
        for instruction in mod.instructions:
            instruction.serialize(buf, len(buf))
        offset, instructions = 0, []
        while offset < len(buf):
            parsed = parser.OFPInstruction.parser(buf, offset)
            instructions.append(parsed)
            offset += parsed.len
        read = _read_back(mod, instructions)  # through the wire encoding of the actions
        assert (read.key, read.body) == (flow.key, flow.body)
