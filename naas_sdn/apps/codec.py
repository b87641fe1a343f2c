"""Translation between the compiler's value objects and os-ken OpenFlow 1.3 messages.

The only module that knows os-ken's parser classes for flows, groups and meters. Parsing a
switch's tables back into the same value objects is what lets the programmer diff desired
against installed state with ``==``.
"""

from __future__ import annotations

import functools

from os_ken.ofproto import nicira_ext
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.flows import ofp as model
from naas_sdn.flows.layout import COOKIE_MAGIC, COOKIE_MAGIC_MASK, CT_ZONE_BITS, Owner, owner_of

OURS_COOKIE = COOKIE_MAGIC << 56
NX_CT_RECIRC_NONE = 0xFF


# ---- value objects -> messages -------------------------------------------------------------

_OXM_BASIC = 0x8000 << 7  # os-ken's numbering of the OpenFlow basic class


def _match(fields: tuple):
    """An OFPMatch whose standard fields precede the Nicira ones: OVS checks each field's
    prerequisites against the fields before it (nw_ttl needs eth_type first), while
    os-ken by itself would put every Nicira field (class 0x0001) in front."""
    return parser.OFPMatch(_ordered_fields=sorted(fields, key=lambda item: _order(item[0])))


@functools.cache
def _order(field: str) -> tuple:
    """Where a match field goes on the wire: by its number alone, known from its name (not
    by encoding its value, as os-ken's oxm_from_user would, for every field of every flow)."""
    number = ofp.oxm_from_user_header(field)
    number = number[0] if isinstance(number, tuple) else number
    return (number < _OXM_BASIC, number)


def _action(action):
    kind = action[0]
    if kind == "output":
        return parser.OFPActionOutput(action[1], 0)
    if kind == "controller":
        return parser.OFPActionOutput(ofp.OFPP_CONTROLLER, action[1])
    if kind == "group":
        return parser.OFPActionGroup(action[1])
    if kind == "push_vlan":
        return parser.OFPActionPushVlan(action[1])
    if kind == "pop_vlan":
        return parser.OFPActionPopVlan()
    if kind == "set_field":
        return parser.OFPActionSetField(**{action[1]: action[2]})
    if kind == "dec_ttl":
        return parser.OFPActionDecNwTtl()
    if kind == "move":
        return parser.NXActionRegMove(
            src_field=action[1], dst_field=action[2], n_bits=action[3], src_ofs=0, dst_ofs=0
        )
    if kind == "ct":
        _, commit, zone_register, table, *nat = action
        return parser.NXActionCT(
            flags=nicira_ext.NX_CT_F_COMMIT if commit else 0,
            zone_src=zone_register,
            zone_ofs_nbits=nicira_ext.ofs_nbits(0, CT_ZONE_BITS - 1),
            recirc_table=NX_CT_RECIRC_NONE if table is None else table,
            alg=0,
            actions=[_nat(nat[0])] if nat else [],
        )
    if kind == "ct_clear":
        return parser.NXActionCTClear()
    if kind == "conjunction":
        return parser.NXActionConjunction(clause=action[2] - 1, n_clauses=action[3], id_=action[1])
    raise ValueError(f"unknown action {action!r}")


_NAT_FLAGS = {"src": 1, "dst": 2}  # OVS's NX_NAT_F_SRC, NX_NAT_F_DST


def _nat(nat: tuple):
    """A ct action's translation: () applies the connection's own, (side, ip) sets one up."""
    if not nat:
        return parser.NXActionNAT(flags=0)
    side, ip = nat
    return parser.NXActionNAT(flags=_NAT_FLAGS[side], range_ipv4_min=ip, range_ipv4_max=ip)


def _parse_nat(actions) -> tuple | None:
    for action in actions:
        if isinstance(action, parser.NXActionNAT):
            for side, flag in _NAT_FLAGS.items():
                if action.flags & flag:
                    return (side, action.range_ipv4_min)
            return ()
    return None


def _instruction(instruction):
    kind = instruction[0]
    if kind == "meter":
        return parser.OFPInstructionMeter(instruction[1], ofp.OFPIT_METER)
    if kind == "apply":
        return parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS, [_action(a) for a in instruction[1]]
        )
    if kind == "write_metadata":
        return parser.OFPInstructionWriteMetadata(instruction[1], instruction[2])
    if kind == "goto":
        return parser.OFPInstructionGotoTable(instruction[1])
    raise ValueError(f"unknown instruction {instruction!r}")


def flow_add(datapath, flow: model.Flow, cookie: int):
    """OFPFC_ADD: installs, or replaces an entry with the same table, priority and match
    (a replaced entry keeps its counters). A counted flow reports its last counters when it
    is removed, so statistics lose nothing between the last poll and the removal."""
    counted = (owner_of(cookie) or (None,))[0] == Owner.COUNTER
    return _flow_mod(
        datapath,
        flow,
        ofp.OFPFC_ADD,
        cookie,
        flags=ofp.OFPFF_SEND_FLOW_REM if counted else 0,
        instructions=[_instruction(i) for i in flow.instructions],
    )


def flow_delete(datapath, flow: model.Flow):
    """OFPFC_DELETE_STRICT of exactly this entry, and only if it carries our cookie."""
    return _flow_mod(
        datapath, flow, ofp.OFPFC_DELETE_STRICT, OURS_COOKIE, cookie_mask=COOKIE_MAGIC_MASK
    )


def _flow_mod(datapath, flow: model.Flow, command, cookie, cookie_mask=0, flags=0, instructions=()):
    """A flow-mod of the one entry of ``flow``'s table, priority and match: no timeouts, no
    buffered packet, no output port or group filter."""
    return parser.OFPFlowMod(
        datapath,
        cookie=cookie,
        cookie_mask=cookie_mask,
        table_id=flow.table,
        command=command,
        idle_timeout=0,
        hard_timeout=0,
        priority=flow.priority,
        buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        flags=flags,
        match=_match(flow.match),
        instructions=list(instructions),
    )


def _buckets(group: model.Group):
    return [
        parser.OFPBucket(
            weight=0,
            watch_port=ofp.OFPP_ANY,
            watch_group=ofp.OFPG_ANY,
            actions=[_action(a) for a in bucket],
        )
        for bucket in group.buckets
    ]


def group_mod(datapath, group: model.Group, command: str):
    commands = {"add": ofp.OFPGC_ADD, "modify": ofp.OFPGC_MODIFY, "delete": ofp.OFPGC_DELETE}
    buckets = [] if command == "delete" else _buckets(group)
    return parser.OFPGroupMod(datapath, commands[command], ofp.OFPGT_ALL, group.group_id, buckets)


def meter_mod(datapath, meter: model.Meter, command: str):
    commands = {"add": ofp.OFPMC_ADD, "modify": ofp.OFPMC_MODIFY, "delete": ofp.OFPMC_DELETE}
    bands = (
        []
        if command == "delete"
        else [parser.OFPMeterBandDrop(rate=meter.rate, burst_size=meter.burst)]
    )
    unit = ofp.OFPMF_KBPS if meter.kbps else ofp.OFPMF_PKTPS
    return parser.OFPMeterMod(
        datapath, commands[command], unit | ofp.OFPMF_BURST, meter.meter_id, bands
    )


def packet_out(datapath, port: int, data: bytes):
    return parser.OFPPacketOut(
        datapath,
        buffer_id=ofp.OFP_NO_BUFFER,
        in_port=ofp.OFPP_CONTROLLER,
        actions=[parser.OFPActionOutput(port, 0)],
        data=data,
    )


# ---- switch replies -> value objects ------------------------------------------------------


_ACTIONS_WITHOUT_ARGUMENTS = {
    parser.OFPActionPopVlan: model.pop_vlan,
    parser.OFPActionDecNwTtl: model.dec_ttl,
    parser.NXActionCTClear: model.ct_clear,
}


def _parse_action(action):
    if isinstance(action, parser.OFPActionOutput):
        if action.port == ofp.OFPP_CONTROLLER:
            return model.to_controller(action.max_len)
        return model.output(action.port)
    if isinstance(action, parser.OFPActionGroup):
        return model.group(action.group_id)
    if isinstance(action, parser.OFPActionPushVlan):
        return model.push_vlan(action.ethertype)
    if isinstance(action, parser.OFPActionSetField):
        return model.set_field(action.key, action.value)
    plain = _ACTIONS_WITHOUT_ARGUMENTS.get(type(action))
    if plain is not None:
        return plain()
    if isinstance(action, parser.NXActionRegMove):
        return model.move(_oxm(action.src_field), _oxm(action.dst_field), action.n_bits)
    if isinstance(action, parser.NXActionCT):
        table = None if action.recirc_table == NX_CT_RECIRC_NONE else action.recirc_table
        found = ("ct", bool(action.flags & nicira_ext.NX_CT_F_COMMIT), action.zone_src, table)
        nat = _parse_nat(action.actions)
        return found if nat is None else (*found, nat)
    if isinstance(action, parser.NXActionConjunction):
        return model.conjunction(action.id, action.clause + 1, action.n_clauses)
    return ("unknown", type(action).__name__)


def _oxm(field: str) -> str:
    """A field as the compiler names it. OVS reports a move of Ethernet and ARP fields in
    their Nicira (NXM) encoding, which os-ken names ``eth_src_nxm``, ``arp_spa_nxm``...: the
    same field, so a restart must not find the ARP answers that use them changed."""
    return field.removesuffix("_nxm")


def _parse_instruction(instruction):
    if isinstance(instruction, parser.OFPInstructionMeter):
        return model.meter(instruction.meter_id)
    if isinstance(instruction, parser.OFPInstructionActions):
        if instruction.type == ofp.OFPIT_APPLY_ACTIONS:
            return model.apply(*[_parse_action(a) for a in instruction.actions])
        return ("unknown-actions", instruction.type)
    if isinstance(instruction, parser.OFPInstructionWriteMetadata):
        return model.write_metadata(instruction.metadata, instruction.metadata_mask)
    if isinstance(instruction, parser.OFPInstructionGotoTable):
        return ("goto", instruction.table_id)
    return ("unknown", type(instruction).__name__)


def flow_key(stats) -> tuple:
    """(table, priority, match) of a flow statistics entry or a flow-removed message."""
    return stats.table_id, stats.priority, model.match(**dict(stats.match.items()))


def parse_flow(stats) -> model.Flow:
    instructions = tuple(_parse_instruction(i) for i in stats.instructions)
    # OVS reports an empty apply-actions for "drop"; the compiler writes no instruction.
    instructions = tuple(i for i in instructions if i != ("apply", ()))
    return model.Flow(
        stats.table_id,
        stats.priority,
        model.match(**dict(stats.match.items())),
        instructions,
        stats.cookie,
    )


def parse_group(stats, cookies: dict) -> model.Group:
    buckets = tuple(tuple(_parse_action(a) for a in b.actions) for b in stats.buckets)
    return model.Group(stats.group_id, buckets, cookies.get(stats.group_id, 0))


def parse_meter(stats) -> model.Meter:
    band = stats.bands[0] if stats.bands else None
    return model.Meter(
        stats.meter_id,
        band.rate if band else 0,
        band.burst_size if band else 0,
        bool(stats.flags & ofp.OFPMF_KBPS),
    )
