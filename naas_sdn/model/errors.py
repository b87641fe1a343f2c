"""Neutron exceptions: each carries the Neutron ``type`` name, the HTTP status and the message.

The northbound layer turns any of them into ``{"NeutronError": {"type", "message", "detail"}}``
with the status given here, so the model and the API speak the same error vocabulary.
"""

from __future__ import annotations


class NeutronException(Exception):
    """Base of every error the API reports; ``message`` is formatted with the keyword args."""

    status = 500
    message = "An unknown exception occurred."
    type_name: str | None = None  # defaults to the class name, as Neutron does

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.msg = self.message % kwargs if kwargs else self.message
        super().__init__(self.msg)

    @property
    def type(self) -> str:
        return self.type_name or type(self).__name__

    def body(self) -> dict:
        return {"NeutronError": {"type": self.type, "message": self.msg, "detail": ""}}


class BadRequest(NeutronException):
    status = 400
    type_name: str | None = "HTTPBadRequest"
    message = "Bad %(resource)s request: %(msg)s."


class BadRequestMessage(BadRequest):
    """A 400 whose message is given verbatim (Neutron's webob.exc.HTTPBadRequest(msg))."""

    message = "%(msg)s"


class InvalidInput(BadRequest):
    """Raised by the plugin layer; the wire type is the class name, as Neutron reports it."""

    type_name = None
    message = "Invalid input for operation: %(error_message)s."


class InvalidAttribute(BadRequest):
    message = "Invalid input for %(attr)s. Reason: %(reason)s."


class InvalidIpForNetwork(NeutronException):
    status = 400
    message = (
        "IP address %(ip_address)s is not a valid IP for any of the subnets on the "
        "specified network."
    )


class InvalidIpForSubnet(NeutronException):
    status = 400
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class AllocationOnAutoAddressSubnet(InvalidInput):
    message = (
        "IPv6 address %(ip)s cannot be directly assigned to a port on subnet "
        "%(subnet_id)s as the subnet is configured for automatic addresses"
    )


class InvalidAllocationPool(NeutronException):
    status = 400
    message = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(NeutronException):
    status = 400
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class DNSNameServersExhausted(NeutronException):
    status = 400
    message = (
        "Unable to complete operation for %(subnet_id)s. The number of DNS nameservers "
        "exceeds the limit %(quota)s."
    )


class HostRoutesExhausted(NeutronException):
    status = 400
    message = (
        "Unable to complete operation for %(subnet_id)s. The number of host routes "
        "exceeds the limit %(quota)s."
    )


class NotAuthenticated(NeutronException):
    status = 401
    type_name = "HTTPUnauthorized"
    message = "Authentication required"


class ProjectScopeRequired(NeutronException):
    status = 403
    type_name = "HTTPForbidden"
    message = "This API acts for a project: authenticate with a project-scoped token"


class PolicyNotAuthorized(NeutronException):
    status = 403
    message = "rule:%(action)s is disallowed by policy"


class NotFound(NeutronException):
    status = 404
    message = "An unknown exception occurred."


class ResourceNotFound(NotFound):
    type_name = "HTTPNotFound"
    message = "The resource could not be found."


class NetworkNotFound(NotFound):
    message = "Network %(net_id)s could not be found."


class PortNotFound(NotFound):
    message = "Port %(port_id)s could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class TagNotFound(NotFound):
    message = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


class ExtensionNotFound(NotFound):
    type_name = "HTTPNotFound"
    message = "Extension with alias %(alias)s does not exist"


class MethodNotAllowed(NeutronException):
    status = 405
    type_name = "HTTPMethodNotAllowed"
    message = "The method %(method)s is not allowed for this resource."


class Conflict(NeutronException):
    status = 409


class PortNotPlugged(Conflict):
    """A trace from a port needs where its packets enter: its VM's interface."""

    message = (
        "Port %(port_id)s has no VM plugged on a switch this controller sees: there is "
        "nowhere its packets enter."
    )


class PortWithoutAddress(Conflict):
    message = "Port %(port_id)s has no IPv%(version)s fixed address."


class NetworkInUse(Conflict):
    message = (
        "Unable to complete operation on network %(net_id)s. There are one or more "
        "ports still in use on the network."
    )


class MacAddressInUse(Conflict):
    message = (
        "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."
    )


class PortBound(Conflict):
    message = (
        "Unable to complete operation on port %(port_id)s, port is already bound, port "
        "type: %(vif_type)s, old_mac %(old_mac)s, new_mac %(new_mac)s."
    )


class IpAddressInUse(Conflict):
    message = (
        "Unable to complete operation for network %(net_id)s. The IP address "
        "%(ip_address)s is in use."
    )


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available for subnet %(subnet_id)s."


class IpAddressGenerationFailureAllSubnets(IpAddressGenerationFailure):
    message = "No more IP addresses available."


class SubnetInUse(Conflict):
    message = "Unable to complete operation on subnet %(subnet_id)s: %(reason)s."

    def __init__(self, **kwargs):
        kwargs.setdefault("reason", "One or more ports have an IP allocation from this subnet")
        super().__init__(**kwargs)


class OverlappingAllocationPools(Conflict):
    message = (
        "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s."
    )


class GatewayConflictWithAllocationPools(Conflict):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidSharedSetting(Conflict):
    message = (
        "Unable to reconfigure sharing settings for network %(network)s. Multiple "
        "tenants are using it."
    )


class DuplicateRbacPolicy(Conflict):
    message = "An RBAC policy already exists with those values."


class RbacPolicyInUse(Conflict):
    message = (
        "RBAC policy on object %(object_id)s cannot be removed because other objects depend "
        "on it.\nDetails: %(details)s"
    )


class RbacPolicyNotFound(NotFound):
    message = "RBAC policy of type %(object_type)s with ID %(id)s not found"


class FlatNetworkInUse(Conflict):
    message = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class VlanIdInUse(Conflict):
    message = (
        "Unable to create the network. The VLAN %(vlan_id)s on physical network "
        "%(physical_network)s is in use."
    )


class TunnelIdInUse(Conflict):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class RevisionNumberConstraintFailed(NeutronException):
    status = 412
    message = "Constrained to %(expected)s, but current revision is %(current)s"


class NoNetworkAvailable(NeutronException):
    """Neutron answers 503 when the tenant segment pool is exhausted."""

    status = 503
    message = "Unable to create the network. No tenant network is available for allocation."


class NotImplementedByPlugin(NeutronException):
    status = 501
    type_name = "HTTPNotImplemented"
    message = (
        "The resource %(resource)s is not implemented: service plugin '%(plugin)s' is not loaded."
    )


class NotOfferedByPlugin(NeutronException):
    """A Neutron resource of a service area whose plugin is loaded but does not offer it
    (its extension, e.g. address-group of the security-group area)."""

    status = 501
    type_name = "HTTPNotImplemented"
    message = (
        "The resource %(resource)s is not implemented: service plugin '%(plugin)s' is loaded "
        "but does not offer it."
    )


class DatabaseUnavailable(NeutronException):
    """The database cannot be reached (a PostgreSQL server restarting, a network cut): the
    request changed nothing and may be sent again."""

    status = 503
    type_name = "HTTPServiceUnavailable"
    message = "The database is unavailable; nothing was changed. Try again later."


class IdentityUnavailable(NeutronException):
    status = 503
    type_name = "HTTPServiceUnavailable"
    message = "The identity service cannot validate tokens now; try again later"


class InternalError(NeutronException):
    status = 500
    type_name = "HTTPInternalServerError"
    message = "Request Failed: internal server error while processing your request."


class MacAddressGenerationFailure(NeutronException):
    status = 503
    message = "Unable to generate unique mac on network %(net_id)s."


# ------------------------------------------------------------------------------------- quotas
class OverQuota(Conflict):
    message = "Quota exceeded for resources: %(overs)s."


class TenantQuotaNotFound(NotFound):
    message = "Quota for project %(tenant_id)s could not be found."


class AdminRequired(NeutronException):
    status = 403
    message = "User does not have admin privileges: %(reason)s."


class QuotaPostNotSupported(NeutronException):
    status = 501
    type_name = "HTTPNotImplemented"
    message = "POST requests are not supported on this resource."


# ------------------------------------------------------------------------ routers (L3, extraroute)
class PluginBadRequest(BadRequest):
    """neutron_lib's BadRequest raised by a plugin: the wire type is ``BadRequest``."""

    type_name = "BadRequest"


class RouterNotFound(NotFound):
    message = "Router %(router_id)s could not be found"


class RouterInUse(Conflict):
    message = "Router %(router_id)s %(reason)s"

    def __init__(self, **kwargs):
        kwargs.setdefault("reason", "still has ports")
        super().__init__(**kwargs)


class RouterInterfaceNotFound(NotFound):
    message = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class RouterInterfaceInUseByRoute(Conflict):
    message = (
        "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be "
        "deleted, as it is required by one or more routes."
    )


class InvalidRoutes(InvalidInput):
    message = "Invalid format for routes: %(routes)s, %(reason)s"


class RoutesExhausted(BadRequest):
    type_name = None
    message = (
        "Unable to complete operation for %(router_id)s. The number of routes exceeds "
        "the maximum %(quota)s."
    )


class PortInUse(Conflict):
    message = (
        "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port "
        "already has an attached device %(device_id)s."
    )


class ServicePortInUse(Conflict):
    message = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s."


class SubnetMismatchForPort(BadRequest):
    type_name = None
    message = "Subnet on port %(port_id)s does not match the requested subnet %(subnet_id)s."


class DeviceIDNotOwnedByTenant(Conflict):
    message = (
        "The following device_id %(device_id)s is not owned by your tenant or matches "
        "another tenants router."
    )


# ------------------------------------------- external gateways and floating IPs (L3, ext-gw-mode)
class ExternalNetworkInUse(Conflict):
    message = (
        "External network %(net_id)s cannot be updated to be made non-external, since it has "
        "existing gateway ports."
    )


class RouterExternalGatewayInUseByFloatingIp(Conflict):
    message = (
        "Gateway cannot be updated for router %(router_id)s, since a gateway to external "
        "network %(net_id)s is required by one or more floating IPs."
    )


class RouterInterfaceInUseByFloatingIP(Conflict):
    message = (
        "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be "
        "deleted, as it is required by one or more floating IPs."
    )


class FloatingIPNotFound(NotFound):
    message = "Floating IP %(floatingip_id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = (
        "External network %(external_network_id)s is not reachable from subnet "
        "%(subnet_id)s.  Therefore, cannot associate Port %(port_id)s with a Floating IP."
    )


class FloatingIPPortAlreadyAssociated(Conflict):
    message = (
        "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port "
        "%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP "
        "on external network %(net_id)s."
    )


class FipAssociated(Conflict):
    message = (
        'Unable to complete the operation on port "%(port_id)s" because the port still has '
        "an associated floating IP."
    )


class ExternalIpAddressExhausted(NeutronException):
    status = 400
    message = "Unable to find any IP address on external network %(net_id)s."


class IpAddressAlreadyAllocated(Conflict):
    """Neutron's IPAM answer for an address taken, which its floating IPs and gateways give."""

    message = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


# -------------------------------------------------------- port security, allowed address pairs
class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = (
        "Port security must be enabled and port must have an IP address in order to use "
        "security groups."
    )


class PortSecurityPortHasSecurityGroup(Conflict):
    message = (
        "Port has security group associated. Cannot disable port security or IP address "
        "until security group is removed"
    )


class AddressPairAndPortSecurityRequired(Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


class AllowedAddressPairExhausted(BadRequest):
    type_name = None
    message = "The number of allowed address pair exceeds the maximum %(quota)s."


class DuplicateAddressPairInRequest(InvalidInput):
    message = (
        "Request contains duplicate address pair: mac_address %(mac_address)s "
        "ip_address %(ip_address)s."
    )


class AllowedAddressPairsMissingIP(InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


# ----------------------------------------------------------------------------- security groups
class SecurityGroupNotFound(NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule %(id)s does not exist"


class SecurityGroupInUse(Conflict):
    message = "Security Group %(id)s in use."


class SecurityGroupConflict(Conflict):
    message = "Error %(reason)s while attempting the operation."


class SecurityGroupCannotRemoveDefault(Conflict):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(Conflict):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(Conflict):
    message = "Default security group already exists."


class SecurityGroupRuleExists(Conflict):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class DuplicateSecurityGroupRuleInPost(InvalidInput):
    message = "Duplicate Security Group Rule in POST."


class SecurityGroupNotSingleGroupRules(InvalidInput):
    message = "Only allowed to update rules for one security profile at a time"


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = (
        "Security group rule protocol %(protocol)s not supported. Only protocol values "
        "%(values)s and integer representations [0 to 255] are supported."
    )


class SecurityGroupRuleInvalidEtherType(InvalidInput):
    message = (
        "Security group rule for ethertype '%(ethertype)s' not supported. Allowed values "
        "are %(values)s."
    )


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port %(port)s."


class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = (
        "ICMP code (port-range-max) %(value)s is provided but ICMP type (port-range-min) "
        "is missing."
    )


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupInvalidProtocolForPortRange(InvalidInput):
    message = (
        "Invalid protocol %(protocol)s for port range, only supported for TCP, UDP, "
        "UDPLITE, SCTP and DCCP."
    )


class SecurityGroupRemoteGroupAndRemoteIpPrefix(InvalidInput):
    message = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class InvalidCIDR(BadRequest):
    type_name = None
    message = "Invalid CIDR %(input)s given as IP prefix."


# ------------------------------------------------------------------------------------------ QoS
class QosPolicyNotFound(NotFound):
    message = "QoS policy %(policy_id)s could not be found."


class QosRuleNotFound(NotFound):
    message = "QoS rule %(rule_id)s for policy %(policy_id)s could not be found."


class QosPolicyInUse(Conflict):
    type_name = "QosPolicyInUse"
    message = "QoS Policy %(policy_id)s is used by %(object_type)s %(object_id)s."


class QoSRulesConflict(Conflict):
    message = (
        "Rule %(new_rule_type)s conflicts with rule %(rule_id)s which already exists in "
        "QoS Policy %(policy_id)s."
    )


# ------------------------------------------------------------ protocol blocks (our extension)
class ProtocolBlockNotFound(NotFound):
    message = "Protocol block %(id)s could not be found."


class ProtocolBlockExists(Conflict):
    message = "Protocol block already exists. Block id is %(block_id)s."


# --------------------------------------------------------- traffic statistics (our extension)
class VifStatisticsNotFound(NotFound):
    message = "No interface has been counted yet for port %(port_id)s."


class IpStatisticsNotFound(NotFound):
    message = "IP statistics %(id)s could not be found."


# ------------------------------------------------- remote sites (networking-l2gw's remote gateway)
class L2RemoteGatewayNotFound(NotFound):
    message = "L2 remote gateway %(id)s could not be found."


class L2RemoteGatewayConnectionNotFound(NotFound):
    message = "L2 remote gateway connection %(id)s could not be found."


class L2RemoteGatewayInUse(Conflict):
    message = "L2 remote gateway %(id)s has connections: delete them first."


class L2RemoteGatewayConnectionExists(Conflict):
    message = (
        "Network %(network_id)s is already connected to L2 remote gateway %(gateway_id)s "
        "(connection %(connection_id)s)."
    )


class L2RemoteGatewayTunnelInUse(Conflict):
    message = (
        "The tunnel to %(remote_ip)s with segmentation id %(segmentation_id)s is already used "
        "by connection %(connection_id)s."
    )


# -------------------------------------------- subnet pools and address scopes (neutron-lib's)
class NamedBadRequest(BadRequest):
    """A 400 of neutron-lib's that the wire names by its class, as Neutron reports it."""

    type_name = None


class SubnetPoolNotFound(NotFound):
    message = "Subnet pool %(subnetpool_id)s could not be found."


class AddressScopeNotFound(NotFound):
    message = "Address scope %(address_scope_id)s could not be found."


class EmptySubnetPoolPrefixList(NamedBadRequest):
    message = "Empty subnet pool prefix list."


class PrefixVersionMismatch(NamedBadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class IllegalSubnetPoolPrefixBounds(NamedBadRequest):
    message = (
        "Illegal prefix bounds: %(prefix_type)s=%(prefixlen)s, "
        "%(base_prefix_type)s=%(base_prefixlen)s."
    )


class IllegalSubnetPoolPrefixUpdate(NamedBadRequest):
    message = "Illegal update to prefixes: %(msg)s."


class IllegalSubnetPoolUpdate(NamedBadRequest):
    message = "Illegal subnetpool update : %(reason)s."


class IllegalSubnetPoolIpVersionAssociationToAddressScope(NamedBadRequest):
    message = (
        "Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot associate with "
        "address scope %(address_scope_id)s because subnetpool ip_version is not "
        "%(ip_version)s."
    )


class AddressScopePrefixConflict(Conflict):
    message = (
        "Failed to associate address scope: subnetpools within an address scope must have "
        "unique prefixes."
    )


class AddressScopeInUse(Conflict):
    message = (
        "Unable to complete operation on address scope %(address_scope_id)s. There are one or "
        "more subnet pools in use on the address scope."
    )


class AddressScopeUpdateError(NamedBadRequest):
    message = "Unable to update address scope %(address_scope_id)s : %(reason)s."


class SubnetPoolDeleteError(NamedBadRequest):
    message = "Unable to delete subnet pool: %(reason)s."


class SubnetPoolQuotaExceeded(OverQuota):
    message = "Per-project subnet pool prefix quota exceeded."


class SubnetAllocationError(Conflict):
    """Neutron's is a bare NeutronException, which its API answers with 500; the pool's
    prefixes taken is a conflict with the state, so it is a 409 here (docs/api.md)."""

    message = "Failed to allocate subnet: %(reason)s."


class MinPrefixSubnetAllocationError(NamedBadRequest):
    message = (
        "Unable to allocate subnet with prefix length %(prefixlen)s, minimum allowed prefix "
        "is %(min_prefixlen)s."
    )


class MaxPrefixSubnetAllocationError(NamedBadRequest):
    message = (
        "Unable to allocate subnet with prefix length %(prefixlen)s, maximum allowed prefix "
        "is %(max_prefixlen)s."
    )


class NetworkSubnetPoolAffinityError(NamedBadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."


class NetworkAddressScopeAffinityError(NamedBadRequest):
    message = (
        "Subnets of the same address family hosted on the same network must all participate "
        "in the same address scope."
    )


# ----------------------------------------------------- auto-allocated topology (Neutron's own)
class NotAuthorized(NeutronException):
    status = 403
    message = "Not authorized."


class AutoAllocationFailure(Conflict):
    message = "Deployment error: %(reason)s."


class DefaultExternalNetworkExists(Conflict):
    message = "A default external network already exists: %(net_id)s."
