"""Statistics: what is delivered to each fixed address of a local port, on an OUTPUT flow of
its own (Owner.COUNTER), so the switch counts it per address. What a port sends is counted
on its port security flows, and what a policy drops on the drop flows of that policy."""

from __future__ import annotations

import netaddr

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Built, LocalBuilder
from naas_sdn.flows.inputs import BoundPort
from naas_sdn.flows.layout import REG_DST_PORT, Owner, Priority, Table, cookie
from naas_sdn.flows.policy import address_match
from naas_sdn.flows.switching import local_output


class Statistics(LocalBuilder):
    name = "statistics"

    def add_local_port(self, bound: BoundPort) -> Built:
        key = bound.port.key
        counted, out = cookie(Owner.COUNTER, key), local_output(bound)
        return Built(
            frozenset(
                ofp.flow(
                    Table.OUTPUT,
                    Priority.OUTPUT_ADDRESS,
                    address_match(netaddr.IPAddress(ip).version, "dst", ip, **{REG_DST_PORT: key}),
                    out,
                    counted,
                )
                for _, ip in bound.policy.addresses
            )
        )
