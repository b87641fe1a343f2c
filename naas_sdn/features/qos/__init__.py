"""The ``qos`` slice: QoS policies with their nested bandwidth-limit and DSCP-marking rules
(:mod:`.policies`), the ``qos_policy_id`` of networks and ports (:mod:`.bindings`), the API
plugin (:mod:`.api`) and the flows (:mod:`.flows`).

Kept as modules the core may import one by one: the network service binds networks and ports
through :mod:`.bindings`, and the compiler loads :mod:`.flows`, without loading the API.
"""
