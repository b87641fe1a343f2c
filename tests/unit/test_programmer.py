"""The programmer against a switch simulated at the message level: real os-ken encoding,
bundles, barriers and errors, so a flow that cannot be encoded or that the switch refuses is
seen exactly where the real ones are."""

import dataclasses
import itertools
import queue
import threading
import time
from types import SimpleNamespace

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofproto
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import codec, metrics
from naas_sdn.apps.channel import Channel, SwitchError
from naas_sdn.apps.programmer import Programmer
from naas_sdn.flows import compiler, ofp
from naas_sdn.flows.layout import Owner, Priority, Table, cookie, qos_meter
from naas_sdn.model.snapshot import QosPolicyView
from tests.unit.test_compiler import ONE_PORTS, ONE_VIFS, fabric, model
from tests.unit.test_policy import lab

REFUSED_PORT = 4000  # the simulated switch refuses output to it when the flow is added
REFUSED_AT_COMMIT_PORT = 4001  # ... and this one only when a commit tries it


class SimulatedSwitch:
    """A datapath that serializes each message as os-ken's does, answers bundle controls,
    barriers and table reads (as a fresh switch), and keeps what bundles commit."""

    id = 1
    ofproto = ofproto
    ofproto_parser = parser

    def __init__(self):
        self.channel = None
        self.flows = {}  # (table, priority, match) -> committed flow-mod
        self.meters = {}  # meter id -> meter-mod
        self.meter_mods = 0
        self.bundles = 0  # bundles opened
        self._open = {}  # bundle id -> [(xid, message)]
        self._xids = itertools.count(1)

    def send_msg(self, msg):
        if msg.xid is None:
            msg.xid = next(self._xids)
        msg.serialize()
        for each in getattr(msg, "messages", [msg]):  # a Channel's messages sent together
            self._take(each)

    def _take(self, msg):
        if isinstance(msg, parser.ONFBundleCtrlMsg):
            self._control(msg)
        elif isinstance(msg, parser.OFPMeterMod):
            self.meter_mods += 1
            if any(band.rate == 0 for band in msg.bands):  # as OVS: rate must be non-zero
                self._error(msg.xid, ofproto.OFPET_METER_MOD_FAILED, ofproto.OFPMMFC_BAD_RATE)
            elif msg.command == ofproto.OFPMC_DELETE:
                self.meters.pop(msg.meter_id, None)
            else:
                self.meters[msg.meter_id] = msg
        elif isinstance(msg, parser.ONFBundleAddMsg):
            if msg.bundle_id not in self._open:  # as OVS: no such bundle open
                self._error(msg.xid, ofproto.OFPET_BAD_REQUEST, ofproto.OFPBRC_EPERM)
            elif _outputs_to(msg.message, REFUSED_PORT):
                self._error(msg.xid, ofproto.OFPET_BAD_ACTION, ofproto.OFPBAC_BAD_OUT_PORT)
            elif any(m not in self.meters for m in _meters_of(msg.message)):
                self._error(msg.xid, ofproto.OFPET_METER_MOD_FAILED, ofproto.OFPMMFC_UNKNOWN_METER)
            else:
                self._open[msg.bundle_id].append((msg.xid, msg.message))
        elif isinstance(msg, parser.OFPBarrierRequest):
            self._reply(parser.OFPBarrierReply(self), msg.xid)
        elif isinstance(msg, parser.OFPFlowStatsRequest):
            self._reply(parser.OFPFlowStatsReply(self, body=[], flags=0), msg.xid)
        elif isinstance(msg, parser.OFPGroupDescStatsRequest):
            self._reply(parser.OFPGroupDescStatsReply(self, body=[], flags=0), msg.xid)
        elif isinstance(msg, parser.OFPMeterConfigStatsRequest):
            self._reply(parser.OFPMeterConfigStatsReply(self, body=[], flags=0), msg.xid)

    def _control(self, msg):
        answer = msg.type + 1  # each request's reply follows it in ONF's numbering
        if msg.type == ofproto.ONF_BCT_OPEN_REQUEST:
            self.bundles += 1
            self._open[msg.bundle_id] = []
        elif msg.type == ofproto.ONF_BCT_DISCARD_REQUEST:
            self._open.pop(msg.bundle_id, None)
        elif msg.type == ofproto.ONF_BCT_COMMIT_REQUEST:
            staged = self._open.pop(msg.bundle_id)
            failing = [xid for xid, m in staged if _outputs_to(m, REFUSED_AT_COMMIT_PORT)]
            if failing:  # as OVS: the failing message's error, then the commit's (OVS says
                # ONF's "bundle message failed"); nothing is applied
                self._error(failing[0], ofproto.OFPET_BAD_ACTION, ofproto.OFPBAC_BAD_OUT_PORT)
                self._error(msg.xid, ofproto.OFPET_BAD_REQUEST, ofproto.OFPBRC_EPERM)
                return
            for _, m in staged:
                if isinstance(m, parser.OFPFlowMod):
                    key = codec.flow_key(m)
                    if m.command == ofproto.OFPFC_ADD:
                        self.flows[key] = m
                    else:
                        self.flows.pop(key, None)
        self._reply(parser.ONFBundleCtrlMsg(self, msg.bundle_id, answer, msg.flags, []), msg.xid)

    def _error(self, xid, type_, code):
        self._reply(parser.OFPErrorMsg(self, type_=type_, code=code, data=b""), xid)

    def _reply(self, reply, xid):
        reply.xid = xid
        self.channel.deliver(reply)


def _outputs_to(flow_mod, port) -> bool:
    return any(
        getattr(action, "port", None) == port
        for instruction in getattr(flow_mod, "instructions", ())
        for action in getattr(instruction, "actions", ())
    )


def _meters_of(flow_mod) -> list:
    return [
        instruction.meter_id
        for instruction in getattr(flow_mod, "instructions", ())
        if isinstance(instruction, parser.OFPInstructionMeter)
    ]


def _rejected(reason) -> float:
    return metrics.REGISTRY.get_sample_value("naas_flows_rejected_total", {"reason": reason}) or 0.0


def _connected():
    switch = SimulatedSwitch()
    switch.channel = Channel(switch, timeout=2)
    return switch, switch.channel


def test_flows_not_encodable_or_refused_are_left_out_and_the_rest_is_programmed():
    state = compiler.compile_fabric(model(ONE_PORTS), fabric([1], [], ONE_VIFS))[1]

    def bad(owner_key, match, instructions):
        return ofp.flow(
            Table.OUTPUT,
            Priority.OUTPUT_PORT,
            ofp.match(**match),
            instructions,
            cookie(Owner.PORT, owner_key),
        )

    unencodable = bad(1, {"reg7": 901}, (ofp.apply(ofp.set_field("eth_src", "zz")),))
    unbuildable = bad(2, {"reg7": 902}, (ofp.apply(("teleport", 1)),))  # no such action
    refused = bad(3, {"reg7": 903}, (ofp.apply(ofp.output(REFUSED_PORT)),))
    refused_at_commit = bad(4, {"reg7": 904}, (ofp.apply(ofp.output(REFUSED_AT_COMMIT_PORT)),))
    bad_flows = {unencodable, unbuildable, refused, refused_at_commit}
    desired = ofp.SwitchState.from_flows(state.flows | bad_flows, state.groups, state.meters)
    switch, channel = _connected()
    programmer = Programmer(None, None, compiler.Options(), generation=1)
    programmer.switch_connected(channel)
    before = {reason: _rejected(reason) for reason in ("encode", "refused")}

    programmer._sync(channel, desired, None)

    assert set(switch.flows) == {f.key for f in state.flows}
    assert _rejected("encode") - before["encode"] == 2
    assert _rejected("refused") - before["refused"] == 2
    assert programmer.installed_flow_counts() == {1: len(state.flows)}
    # The next pass does not send the rejected flows again: nothing to do at all.
    bundles = switch.bundles
    programmer._sync(channel, desired, None)
    assert switch.bundles == bundles
    # The owners' other flows are still diffed as usual.
    changed = ofp.SwitchState.from_flows(
        {f for f in desired.flows if f.cookie != cookie(Owner.PORT, 1)}, state.groups, state.meters
    )
    programmer._sync(channel, changed, None)
    assert not any(k[2] and dict(k[2]).get("reg7") == 1 for k in switch.flows)
    # A resync gives every flow another chance.
    programmer.resync(1)
    programmer._sync(channel, desired, None)
    assert _rejected("refused") - before["refused"] == 4
    assert set(switch.flows) == {f.key for f in state.flows}


def test_a_port_whose_flows_cannot_be_compiled_leaves_the_switch_to_the_others():
    broken = model(ONE_PORTS)
    ports = dict(broken.ports)
    ports["a2"] = dataclasses.replace(ports["a2"], fixed_ips=(("s", "10.0.0.999"),))
    broken = dataclasses.replace(broken, ports=ports)
    fab = fabric([1], [], ONE_VIFS)
    state = compiler.compile_fabric(broken, fab)[1]
    assert list(state.failed) == [cookie(Owner.PORT, 2)]
    assert cookie(Owner.PORT, 2) not in state.parts and cookie(Owner.PORT, 3) in state.parts
    switch, channel = _connected()
    programmer = Programmer(
        SimpleNamespace(snapshot=lambda: broken),
        SimpleNamespace(snapshot=lambda: fab, connected=dict),
        compiler.Options(),
        generation=1,
    )
    programmer.switch_connected(channel)
    before = _rejected("compile")
    programmer._pass({1: channel})
    programmer._pass({1: channel})
    assert _rejected("compile") - before == 1  # reported once while it lasts
    assert set(switch.flows) == {f.key for f in state.flows}


def test_a_failing_publication_to_traces_keeps_no_switch_from_its_flows():
    """What traces read is published each pass; its failure is logged, never a pass lost."""
    state_model = model(ONE_PORTS)
    fab = fabric([1], [], ONE_VIFS)
    switch, channel = _connected()

    def broken(*_args):
        raise RuntimeError("a bug on the traces' side")

    programmer = Programmer(
        SimpleNamespace(snapshot=lambda: state_model),
        SimpleNamespace(snapshot=lambda: fab, connected=dict),
        compiler.Options(),
        generation=1,
        compiled=broken,
    )
    programmer.switch_connected(channel)
    programmer._pass({1: channel})
    assert set(switch.flows) == {f.key for f in compiler.compile_fabric(state_model, fab)[1].flows}


def test_a_meter_the_switch_refuses_leaves_out_only_the_flows_using_it():
    zero = QosPolicyView("zero", "t", (("ingress", 0, 0),))  # the API allows max_kbps 0
    ports = {
        "p1": dict(port_security_enabled=False, qos_policy_id="zero"),
        "p2": dict(port_security_enabled=False),
    }
    state = compiler.compile_fabric(*lab(keys=(1, 2), qos=(zero,), **ports))[1]
    limited = {f for f in state.flows if ("meter", qos_meter(1, "ingress")) in f.instructions}
    assert limited
    switch, channel = _connected()
    programmer = Programmer(None, None, compiler.Options(), generation=1)
    programmer.switch_connected(channel)
    before = _rejected("refused")

    programmer._sync(channel, state, None)

    assert set(switch.flows) == {f.key for f in state.flows - limited}
    assert set(switch.meters) == {m.meter_id for m in state.meters} - {qos_meter(1, "ingress")}
    assert _rejected("refused") - before == len(limited)
    sent = (switch.bundles, switch.meter_mods)
    programmer._sync(channel, state, None)
    assert (switch.bundles, switch.meter_mods) == sent


def test_the_switch_of_a_new_port_is_programmed_after_the_others():
    """A VM can send once its own switch classifies it: by then every other switch must
    already lead back to it, or its first exchange (the peer's ARP, its reply) is lost."""
    committed = []

    class Recording(SimulatedSwitch):
        def _control(self, msg):
            if msg.type == ofproto.ONF_BCT_COMMIT_REQUEST:
                committed.append(self.id)
            super()._control(msg)

    channels = {}
    for dpid in (1, 2):
        switch = Recording()
        switch.id = dpid
        switch.channel = Channel(switch, timeout=2)
        channels[dpid] = switch.channel
    vifs = {"a2": (2, 1)}
    programmer = Programmer(
        SimpleNamespace(snapshot=lambda: model(ONE_PORTS)),
        SimpleNamespace(
            snapshot=lambda: fabric([1, 2], [((1, 10), (2, 10))], vifs), connected=dict
        ),
        compiler.Options(),
        generation=1,
    )
    for channel in channels.values():
        programmer.switch_connected(channel)
    programmer._pass(channels)
    committed.clear()
    vifs["a1"] = (1, 1)  # a new VM of network A on switch 1, whose peer is on switch 2
    programmer._pass(channels)
    assert committed == [2, 1]


class OnTheWire(SimulatedSwitch):
    """Answers as a switch across a network does: replies reach the channel only once it
    waits for one, each wait that finds nothing there being one round trip."""

    def __init__(self, refuse_open=False):
        super().__init__()
        self.refuse_open = refuse_open
        self.held = []
        self.round_trips = 0

    def _control(self, msg):
        if self.refuse_open and msg.type == ofproto.ONF_BCT_OPEN_REQUEST:
            self._error(msg.xid, ofproto.OFPET_BAD_REQUEST, ofproto.OFPBRC_EPERM)
            return
        super()._control(msg)

    def _reply(self, reply, xid):
        reply.xid = xid
        self.held.append(reply)

    def arrive(self):
        if self.held:
            self.round_trips += 1
        held, self.held = self.held, []
        for reply in held:
            self.channel.deliver(reply)


class WaitingChannel(Channel):
    def _get(self, waiter):
        if waiter.empty():
            self.datapath.arrive()
        return super()._get(waiter)


def _flow_mods(switch, count):
    owner = cookie(Owner.SWITCH, 1)
    return [
        codec.flow_add(switch, ofp.flow(Table.OUTPUT, 1, (("in_port", n + 1),), (), owner), owner)
        for n in range(count)
    ]


def test_a_bundle_costs_two_round_trips_its_open_going_with_its_messages():
    switch = OnTheWire()
    switch.channel = WaitingChannel(switch, timeout=2)
    switch.channel.bundle(_flow_mods(switch, 3))
    assert switch.round_trips == 2  # open + adds + barrier, then commit
    assert len(switch.flows) == 3


def test_a_bundle_the_switch_will_not_open_fails_and_applies_nothing():
    switch = OnTheWire(refuse_open=True)
    switch.channel = WaitingChannel(switch, timeout=2)
    with pytest.raises(SwitchError, match="refused a bundle control"):
        switch.channel.bundle(_flow_mods(switch, 2))
    assert switch.flows == {}


def test_a_change_after_a_quiet_spell_goes_at_once_and_one_in_a_burst_waits(monkeypatch):
    """A VM plugged into an idle controller is programmed with no wait; a change right after
    a pass (a burst of API calls) waits COALESCE for more, so one pass serves them."""
    waits, passes = [], queue.Queue()
    real_sleep = time.sleep

    def sleep(seconds):
        if threading.current_thread().name == "programmer":
            waits.append(seconds)
        real_sleep(seconds)

    class Recording(Programmer):
        def _pass(self, channels):
            passes.put(list(waits))

    monkeypatch.setattr(time, "sleep", sleep)
    programmer = Recording(SimpleNamespace(), SimpleNamespace(), compiler.Options(), generation=1)
    programmer.start()
    try:
        programmer.changed()
        assert passes.get(timeout=5) == []
        programmer.changed()
        assert passes.get(timeout=5) == [Programmer.COALESCE]
    finally:
        programmer.stop()


class WriteRecording(SimulatedSwitch):
    """Records each write to the connection: the names of the messages it carries."""

    def __init__(self):
        super().__init__()
        self.writes = []

    def send_msg(self, msg):
        self.writes.append([type(m).__name__ for m in getattr(msg, "messages", [msg])])
        super().send_msg(msg)


def test_a_bundle_of_any_size_is_two_writes_to_the_connection():
    """Open, adds and barrier in one write, then the commit: os-ken hands each write to the
    connection's send thread on its own."""
    switch = WriteRecording()
    switch.channel = Channel(switch, timeout=2)
    switch.channel.bundle(_flow_mods(switch, 30))
    assert [len(write) for write in switch.writes] == [32, 1]
    assert len(switch.flows) == 30


def test_a_new_ports_meters_go_in_its_bundles_write():
    """A port's meter (its packet-in budget) reaches the switch in the write of the bundle
    whose flows use it, ahead of them: no round trip of its own before the bundle."""
    state = compiler.compile_fabric(*lab(keys=(1, 2)))[1]
    assert state.meters
    switch = WriteRecording()
    writes = switch.writes
    switch.channel = Channel(switch, timeout=2)
    programmer = Programmer(None, None, compiler.Options(), generation=1)
    programmer.switch_connected(switch.channel)
    programmer._sync(switch.channel, state, None)
    bundles = [w for w in writes if "ONFBundleAddMsg" in w]
    assert len(bundles) == 1 and bundles[0].count("OFPMeterMod") == len(state.meters)
    assert not [w for w in writes if w == ["OFPMeterMod"] * len(w)]  # none fenced alone
    assert set(switch.meters) == {m.meter_id for m in state.meters}
    assert set(switch.flows) == {f.key for f in state.flows}
