"""The core resources — networks, subnets and ports — declared like every other slice, with
their relational rules. Always loaded: the ``core`` plugin serves them; the attributes other
slices add to them (port security, QoS) come as those slices' extensions."""

from . import networks, ports, rbac, subnets

__all__ = ["networks", "ports", "rbac", "subnets"]
