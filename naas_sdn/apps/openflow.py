"""The os-ken application: the only code that talks OpenFlow to switches.

It translates switch events into calls on the runtime (connect, ports, discovery probes)
and routes replies and errors to the per-switch :class:`Channel` that waits for them.
Handlers never block and never raise: on os-ken's native hub a raising handler silently ends
the app's event loop.

Replies, errors and flow-removed messages are handed over on the connection's own receive
thread, as os-ken's handshake handlers are, not queued to this app's one event thread: a
bundle waits for two replies from each switch, and with 20 switches programmed at once that
single thread was a queue every reply stood in (and the GIL hand-offs with it). They stay
in wire order, which the statistics poller relies on (flow-removed before or after a reply).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, ClassVar

from os_ken.base import app_manager  # must precede os_ken.controller: import cycle
from os_ken.controller import ofp_event
from os_ken.controller.handler import (
    CONFIG_DISPATCHER,
    DEAD_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
    set_ev_handler,
)
from os_ken.ofproto import ofproto_v1_3

if TYPE_CHECKING:
    from naas_sdn.apps.runtime import Runtime

LOG = logging.getLogger(__name__)

# Set by naas_sdn.apps.runtime before the AppManager instantiates this app: os-ken creates
# apps itself, with no arguments of ours.
RUNTIME: Runtime | None = None

# What a switch answers to the requests of our channels, and what they number in wire order.
_REPLIES = [
    ofp_event.EventOFPErrorMsg,
    ofp_event.EventOFPBarrierReply,
    ofp_event.EventONFBundleCtrlMsg,
    ofp_event.EventOFPFlowStatsReply,
    ofp_event.EventOFPGroupDescStatsReply,
    ofp_event.EventOFPMeterConfigStatsReply,
    ofp_event.EventOFPPortDescStatsReply,
    ofp_event.EventOFPPortStatsReply,
    ofp_event.EventOFPMeterStatsReply,
    ofp_event.EventOFPRoleReply,
]


def _guarded(handler):
    """``handler`` (a method or a function) that logs what it raises instead."""

    @functools.wraps(handler)
    def wrapper(*args):
        try:
            handler(*args)
        except Exception:
            LOG.exception("%s failed", handler.__name__)

    return wrapper


class NaasOpenFlow(app_manager.OSKenApp):
    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if RUNTIME is None:
            raise RuntimeError(
                "naas_sdn.apps.runtime sets openflow.RUNTIME before os-ken starts this app"
            )
        self.runtime: Runtime = RUNTIME

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    @_guarded
    def _state_change(self, ev):
        if ev.state == MAIN_DISPATCHER:
            self.runtime.switch_connected(ev.datapath)
        elif ev.state == DEAD_DISPATCHER and ev.datapath.id is not None:
            self.runtime.switch_disconnected(ev.datapath)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @_guarded
    def _port_status(self, ev):
        self.runtime.port_status(ev.msg.datapath, ev.msg.reason, ev.msg.desc)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @_guarded
    def _packet_in(self, ev):
        self.runtime.packet_in(ev.msg)

    def start(self):
        """Hand replies over on the receive threads (see the module's docstring): os-ken
        calls the handlers of its ``ofp_event`` app there, before this app's loop starts."""
        runtime = self.runtime

        @set_ev_handler(_REPLIES, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
        @_guarded
        def reply(ev):
            runtime.reply(ev.msg)

        @set_ev_handler(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
        @_guarded
        def flow_removed(ev):
            runtime.flow_removed(ev.msg)

        brick = app_manager.lookup_service_brick("ofp_event")
        for event in _REPLIES:
            brick.register_handler(event, reply)
        brick.register_handler(ofp_event.EventOFPFlowRemoved, flow_removed)
        return super().start()
