"""Network-wide protocol blocks: one protocol, optionally one ethertype and destination port
range, barred from and to every port of a network, present and future — the ``protocol-block``
slice: its declaration and rule (:mod:`.resource`), its API plugin at /v2.0/protocol-blocks
(:mod:`.api`) and its flows (:mod:`.flows`).

Protocol, ethertype and port ranges follow security group rules' syntax and errors, but a block
names a protocol: never "any". Only the network's owner (or an admin) creates one; a block
belongs to the network's project and goes with the network; only name and description change
afterwards (a different block is a new block).

Kept as modules imported one by one: the compiler loads :mod:`.flows` without the API.
"""
