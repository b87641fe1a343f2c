"""The ``statistics`` slice: traffic counters of networks, ports, VIFs and fixed IPs — the
store keeping them monotonic in SQL (:mod:`.store`), the read-only API plugin (:mod:`.api`)
and the per-address counting flows (:mod:`.flows`).

The poller that reads the switches' counters into the store stays with the other switch
talkers, in :mod:`naas_sdn.apps.statistics`. Kept as modules imported one by one: the
compiler loads :mod:`.flows`, the network service :mod:`.store`, neither the API.
"""
