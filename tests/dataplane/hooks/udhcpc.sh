#!/bin/sh
# udhcpc hook for Mininet test hosts: apply the lease inside the host's own namespace and
# record it in $NAAS_LEASE_FILE. Unlike the stock script it never touches /etc/resolv.conf,
# which Mininet hosts share with the machine.
case "$1" in
    bound|renew)
        ip addr flush dev "$interface" scope global
        ip addr add "$ip/${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then
            ip route replace default via "${router%% *}" dev "$interface"
        fi
        env | grep -E '^(ip|subnet|mask|router|dns|staticroutes|mtu|lease|serverid)=' \
            | sort > "$NAAS_LEASE_FILE"
        ;;
    deconfig)
        ip addr flush dev "$interface" scope global
        ;;
esac
exit 0
