"""The security groups slice: security groups and their rules (:mod:`.groups`), the port
side — port security, allowed address pairs and a port's groups — as extensions of networks
and ports (:mod:`.ports`), and their API, always loaded as part of the core (:mod:`.api`).

Kept as modules the core may import one by one: the network service makes a project's default
group through :mod:`.groups` without loading the API.
"""
