#!/bin/sh
# dhclient -6 hook for Mininet test hosts: apply a DHCPv6 address in the host's namespace and
# record the lease in $NAAS_LEASE_FILE; never touches the machine's resolv.conf.
case "$reason" in
    BOUND6|REBIND6|RENEW6|REBOOT6)
        if [ -n "$new_ip6_address" ]; then
            ip -6 addr replace "$new_ip6_address/${new_ip6_prefixlen:-128}" dev "$interface" nodad
        fi
        env | grep -E '^(reason|new_ip6_address|new_ip6_prefixlen|new_dhcp6_name_servers)=' \
            | sort > "$NAAS_LEASE_FILE"
        ;;
esac
exit 0
