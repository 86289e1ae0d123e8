#!/bin/sh
# The DR guest's job (scripts/vm-pair.sh boots it with `run`): bring up the
# link, export /dev/vda (the host's file-backed disk image) with nbd-server
# as "dr" on 169.254.77.2:10809, say "DMR-PAIR: dr-ready" and wait to be
# killed. Flush requests reach the disk (fdatasync), so what the primary
# flushed survives a kill of this guest.
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
[dr]
	exportname = /dev/vda
	flush = true
	fua = true
CONF
nbd-server -C /etc/nbd-server/config
i=0
until netstat -ltn | grep -q ':10809 '; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "dr: nbd-server does not listen"; exit 1; }
	sleep 0.1
done
echo "DMR-PAIR: dr-ready"
while :; do sleep 3600; done
