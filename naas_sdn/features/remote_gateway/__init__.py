"""Remote sites: a tenant extends a network to its on-premise site through a bridging device
at the site's end of a tunnel — the ``l2-remote-gateway`` slice: its declarations and rules
(:mod:`.resource`) and its API plugin (:mod:`.api`). The tunnel is an interface the
controller keeps on the terminating bridge (``remote_gateway_bridge``) through OVSDB, bound
to the connection's port, so the compiler carries it as a port of the network.
"""
