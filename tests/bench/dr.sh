#!/bin/sh
# The benchmark's DR guest job (scripts/bench.sh boots it with `run`):
# the peer of every configuration that replicates over the network.
#   - nbd-server exports /dev/ram2 (RAM-backed) as "dr" on
#     169.254.77.2:10809: the remote device of the replicator's network
#     configurations;
#   - DRBD 8.4 (in-tree driver, drbd-utils' drbdsetup-84/drbdmeta):
#     resource "rc" (minor 0, port 7789, protocol C) on a 17 MiB slice of
#     /dev/ram0, "ra" (minor 1, port 7790, protocol A) on one of
#     /dev/ram1 and "rs" (minor 2, port 7791, protocol C) on one of
#     /dev/ram3, internal metadata, waiting for the primary to connect.
#     Each is used by one configuration only: a resource set up a second
#     time on the primary (new metadata) would meet this side's data,
#     not fresh metadata, and could not skip its initial sync. "rs" is
#     the resync measurement's.
# Then it says "DMR-PAIR: dr-ready" and waits to be killed. A resource
# that cannot be set up is reported (BENCH-DR: lines) and the others stay.
ip link set lo up
ip link set eth0 up
ip addr add 169.254.77.2/16 dev eth0
export DM_DISABLE_UDEV=1
PRIMARY=169.254.77.1 DR=169.254.77.2
mkdir -p /var/run /var/lock /var/lib/drbd /run/drbd /etc/nbd-server

for i in 0 1 2 3; do blkdiscard /dev/ram$i 2>/dev/null; done

cat >/etc/nbd-server/config <<CONF
[generic]
	user = root
	group = root
	listenaddr = $DR
[dr]
	exportname = /dev/ram2
	flush = true
	fua = true
CONF
nbd-server -C /etc/nbd-server/config || echo "BENCH-DR: nbd-server failed"

# drbd_res NAME MINOR RAM PORT PROTOCOL
drbd_res() {
	local name=$1 minor=$2 ram=$3 port=$4 proto=$5 back=/dev/mapper/drbd$1
	dmsetup --noudevsync create "drbd$name" --table "0 34816 linear /dev/ram$ram 0" &&
		printf "yes\nyes\n" | drbdmeta --force "$minor" v08 "$back" internal create-md >/tmp/drbdmeta-$name.log 2>&1 &&
		drbdsetup-84 new-resource "$name" &&
		drbdsetup-84 new-minor "$name" "$minor" 0 &&
		drbdsetup-84 attach "$minor" "$back" "$back" internal &&
		drbdsetup-84 connect "$name" "ipv4:$DR:$port" "ipv4:$PRIMARY:$port" --protocol="$proto" --max-buffers=8000 ||
		{ echo "BENCH-DR: DRBD resource $name failed: $(cat /tmp/drbdmeta-$name.log 2>/dev/null | tail -n 2)"; return 1; }
}
if [ -d /sys/module/drbd ] || [ -e /proc/drbd ]; then
	drbd_res rc 0 0 7789 C
	drbd_res ra 1 1 7790 A
	drbd_res rs 2 3 7791 C
else
	echo "BENCH-DR: no DRBD in this kernel"
fi

i=0
until netstat -ltn | grep -q ':10809 '; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "BENCH-DR: nbd-server does not listen"; break; }
	sleep 0.1
done
echo "DMR-PAIR: dr-ready"
while :; do sleep 3600; done
