"""The ``qos`` slice: QoS policies with their nested bandwidth-limit and DSCP-marking rules
(:mod:`.policies`), the ``qos_policy_id`` of networks and ports (:mod:`.bindings`) and the API
plugin (:mod:`.api`).

Kept as modules the core may import one by one: the network service binds networks and ports
through :mod:`.bindings` without loading the API.
"""
