#!/bin/sh
# The DR guest's job (scripts/vm-pair.sh boots it with `run`): bring up the
# link, export its disks (the host's file-backed disk images) with
# nbd-server on 169.254.77.2:10809, /dev/vda as "dr" and /dev/vdb,
# /dev/vdc, /dev/vdd (when vm-pair.sh gave them) as "dr1", "dr2", "dr3",
# say "DMR-PAIR: dr-ready" and wait to be killed (or, with the agent,
# run the primary's scripts). Flush requests reach the
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
if grep -qw DMR_DR_AGENT=1 /proc/cmdline; then
	# The agent (vm-pair.sh, "# dr-agent: 1"): run each script the primary
	# puts in the share's dr-cmd/ (ID.sh), once, in order of arrival; its
	# output goes to ID.out, then its exit status to ID.rc.
	mkdir -p /mnt/pair
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=none pair /mnt/pair || {
		echo "dr: cannot mount the share"
		exit 1
	}
	mkdir -p /mnt/pair/dr-cmd
	echo "DMR-PAIR: dr-ready"
	while :; do
		for f in /mnt/pair/dr-cmd/*.sh; do
			[ -f "$f" ] || continue
			id=${f%.sh}
			[ ! -f "$id.rc" ] || continue
			rc=0
			sh -e "$f" </dev/null >"$id.out.tmp" 2>&1 || rc=$?
			mv "$id.out.tmp" "$id.out"
			echo $rc >"$id.rc.tmp"
			mv "$id.rc.tmp" "$id.rc"
		done
		sleep 0.2
	done
fi
echo "DMR-PAIR: dr-ready"
while :; do sleep 3600; done
