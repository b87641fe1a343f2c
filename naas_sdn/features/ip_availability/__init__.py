"""The ``network-ip-availability`` slice: how many addresses each network's subnets offer and
how many are in use, read-only at /v2.0/network-ip-availabilities (:mod:`.api`), as
Neutron's extension of the same name reports them.

It has no table and no flows: the numbers are computed on each request from the model's
in-memory mirror (subnets' pools, and the address owners the service keeps per subnet).
"""
