"""The ``statistics`` slice: traffic counters of networks, ports, VIFs and fixed IPs — the
store keeping them monotonic in SQL (:mod:`.store`), the read-only API plugin (:mod:`.api`)
and the per-address counting flows (:mod:`.flows`).

The poller reading the switches' counters into the store is :mod:`naas_sdn.apps.statistics`:
it sends OpenFlow requests on the switches' channels, and ``apps/`` is the one layer that
talks to switches (the runtime starts it beside the programmer). Kept as modules imported one
by one: the compiler loads :mod:`.flows`, the network service :mod:`.store`, neither the API.
"""
