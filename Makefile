# dm-replicator: top-level commands. Everything builds into the cache
# (~/.cache/dm-replicator by default), never into the work tree.
#
#   make deps      install build and test dependencies (Debian 12, root)
#   make test      host tests, then the VM suite and a 20-round crash test
#                  on the debug kernel
#   make torture   the crash test with more crash points (ROUNDS=200)
#   make demo      build and boot the release kernel, show the targets at work
#   make module    build dm_replicator.ko (FLAVOUR=debug|release)
#   make check     host tests only (cargo)

FLAVOUR ?= debug
SHELL := /bin/bash

ROUNDS ?= 200

.PHONY: all deps kernel module check vm-test test torture demo clean

all: module

# deps.sh is idempotent and fast when everything is there.
deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh $(FLAVOUR) >/dev/null

module: deps
	@scripts/module.sh $(FLAVOUR)

check: deps
	@scripts/host-test.sh

vm-test: deps
	@DMR_FLAVOUR=debug scripts/vm-test.sh $(TESTS)

# One closing line for the whole run: host tests and VM tests together.
test: deps
	@scripts/test.sh

# Kill QEMU at ROUNDS random points of a write load; check every
# acknowledged write after each reboot.
torture: deps
	@DMR_FLAVOUR=debug scripts/crash-test.sh $(ROUNDS)

demo: deps
	@DMR_FLAVOUR=release scripts/vm-run.sh scripts/demo.sh

clean:
	rm -rf target
