#!/bin/sh
# Garbage table lines and messages never crash or leak: each is refused
# (or, rarely, valid), and the kernel log stays free of splats (the runner
# checks dmesg, kmemleak and rmmod after the test).
. /tests/lib.sh

ramdev 0 >/dev/null
ramdev 1 >/dev/null
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 0 blockdev 4 1 async ios 10"
ctl=$(devno repl)
dmc create r0 --table "0 65536 replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0"

# Arguments that are not UTF-8 are refused by the dm layer itself.
expect_refused bad "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 $(printf '\377')" \
	"replicator: Arguments must be UTF-8 text"

# Random lines from the grammar's own words, numbers and junk.
words="ringbuffer blockdev replicator nolog core disk userspace sync nosync auto open create
async synchronous stall a s + ios size timeout data ios=5 0 1 2 3 4 8 2048 65536 -1 99999999999999999999
$ctl /dev/ram0 /dev/ram1 /dev/nonexistent start stop all slink add del message policy fallbehind
statistics on off reset replog resize device 10k 5s 1e 7q == ∂"
seed=${DMR_SEED:-$$}
echo "seed $seed"
lines=$(echo $words | awk -v seed="$seed" '{
	srand(seed); n = split($0, w, " ")
	for (i = 0; i < 40; i++) {
		k = 1 + int(rand() * 12); line = ""
		for (j = 0; j < k; j++) line = line " " w[1 + int(rand() * n)]
		print line
	}
}')
echo "$lines" | while read -r line; do
	dmc create junk --table "0 65536 replicator $line" >/dev/null 2>&1 && dmc remove junk
	dmc create junk --table "0 65536 replicator-dev $line" >/dev/null 2>&1 && dmc remove junk
	dmc message repl 0 $line >/dev/null 2>&1 || true
	dmc message r0 0 $line >/dev/null 2>&1 || true
done

# The devices still work and report sane status afterwards.
sum=$(rand_write /dev/mapper/r0 64)
assert_eq "$(sha /dev/ram1 64)" "$sum" "data after the garbage"
dmc status repl >/dev/null
dmc table r0 >/dev/null
dmc remove_all --force
