#!/bin/sh
# The DR guest's job (scripts/vm-pair.sh boots it with `run`): bring up the
# link, export its disks (the host's file-backed disk images) with
# nbd-server on 169.254.77.2:10809, /dev/vda as "dr" and /dev/vdb,
# /dev/vdc, /dev/vdd (when vm-pair.sh gave them) as "dr1", "dr2", "dr3",
# say "DMR-PAIR: dr-ready" and wait to be killed. Flush requests reach the
# disks (fdatasync), so what the primary flushed survives a kill of this
# guest.
set -e
ip link set lo up
ip link set eth0 up
ip addr add 169.254.77.2/16 dev eth0
[ -b /dev/vda ] || { echo "dr: no /dev/vda"; exit 1; }
mkdir -p /var/run /etc/nbd-server
cat >/etc/nbd-server/config <<CONF
[generic]
	user = root
	group = root
	listenaddr = 169.254.77.2
CONF
k=0
for d in a b c d; do
	[ -b /dev/vd$d ] || break
	name=dr
	[ $k = 0 ] || name=dr$k
	cat >>/etc/nbd-server/config <<CONF
[$name]
	exportname = /dev/vd$d
	flush = true
	fua = true
CONF
	k=$((k + 1))
done
echo "dr: $k disk(s)"
nbd-server -C /etc/nbd-server/config
i=0
until netstat -ltn | grep -q ':10809 '; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "dr: nbd-server does not listen"; exit 1; }
	sleep 0.1
done
echo "DMR-PAIR: dr-ready"
while :; do sleep 3600; done
