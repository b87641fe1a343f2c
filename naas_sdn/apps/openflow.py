"""The os-ken application: the only code that talks OpenFlow to switches.

It translates switch events into calls on the runtime (connect, ports, discovery probes)
and routes replies and errors to the per-switch :class:`Channel` that waits for them.
Handlers never block and never raise: on os-ken's native hub a raising handler silently ends
the app's event loop.
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
)
from os_ken.ofproto import ofproto_v1_3

if TYPE_CHECKING:
    from naas_sdn.apps.runtime import Runtime

LOG = logging.getLogger(__name__)

# Set by naas_sdn.apps.runtime before the AppManager instantiates this app: os-ken creates
# apps itself, with no arguments of ours.
RUNTIME: Runtime | None = None


def _guarded(handler):
    @functools.wraps(handler)
    def wrapper(self, ev):
        try:
            handler(self, ev)
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

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    @_guarded
    def _flow_removed(self, ev):
        self.runtime.flow_removed(ev.msg)

    @set_ev_cls(
        [
            ofp_event.EventOFPErrorMsg,
            ofp_event.EventOFPBarrierReply,
            ofp_event.EventONFBundleCtrlMsg,
            ofp_event.EventOFPFlowStatsReply,
            ofp_event.EventOFPGroupDescStatsReply,
            ofp_event.EventOFPMeterConfigStatsReply,
            ofp_event.EventOFPPortDescStatsReply,
            ofp_event.EventOFPPortStatsReply,
            ofp_event.EventOFPMeterStatsReply,
        ],
        [CONFIG_DISPATCHER, MAIN_DISPATCHER],
    )
    @_guarded
    def _reply(self, ev):
        self.runtime.reply(ev.msg)
