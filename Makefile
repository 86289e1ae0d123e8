# dm-replicator: top-level commands. Everything builds into the cache
# (~/.cache/dm-replicator by default), never into the work tree.
#
#   make deps      install build and test dependencies (Debian 12, root)
#   make test      host tests, then the VM suite, a 5-round crash test (on
#                  the packaged debug kernel, the packages installed in the
#                  guest) and the two-site suite on the debug kernel
#   make torture   the crash test with more crash points (ROUNDS=200), the
#                  power-cut suite with more cuts (CUTS=3600 of the load,
#                  6120 in all) and the long tests of tests/torture/
#   make pair-test two guests, a primary and a DR site over NBD (tests/pair/)
#   make demo      build the release kernel, boot a primary and a DR guest,
#                  show replication, a DR outage and its resync, then a
#                  takeover at the DR site and a failback
#   make bench     benchmark suite on the release kernel (QUICK=1: ~6 min);
#                  reference results into Documentation/bench/
#   make module    build dm_replicator.ko (FLAVOUR=debug|release, or
#                  KDIR=DIR: against any Rust-enabled kernel build tree)
#   make check     host tests only (cargo test, cargo clippy -D warnings)
#   make install   install dm_replicator.ko (for the running kernel, KDIR=DIR
#                  or FLAVOUR=), replog, nbd-reconnect and the systemd units;
#                  INSTALL_MOD_PATH, DESTDIR, PREFIX, INSTALL_PARTS
#                  (scripts/install.sh)
#   make install-dkms  the module's source for DKMS instead of a built module
#   make kernel-package  Debian packages of a Rust-enabled Linux 6.12 with
#                  Debian's configuration (KCONFIG_BASE=test: the test
#                  guests' kernel, packaged in a minute; CONFIG_ONLY=1:
#                  stop after the configuration)
#   make module-package  .deb packages of the module for one kernel (KDIR=,
#                  FLAVOUR= as for make install) and of the tools
#   See Documentation/install.rst for a server.

FLAVOUR ?= debug
SHELL := /bin/bash

ROUNDS ?= 200
CUTS ?= 3600

.PHONY: all deps kernel module check vm-test pair-test test torture demo bench clean \
	install install-dkms kernel-package module-package

all: module

# deps.sh is idempotent and fast when everything is there.
deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh $(FLAVOUR) >/dev/null

module: deps
	@$(if $(KDIR),scripts/install.sh --build-only,scripts/module.sh $(FLAVOUR))

check: deps
	@scripts/host-test.sh

vm-test: deps
	@DMR_FLAVOUR=debug scripts/vm-test.sh $(TESTS)

# The two-site suite: a primary and a DR guest, the DR's disk over NBD.
pair-test: deps
	@DMR_FLAVOUR=debug scripts/vm-pair.sh $(TESTS)

# One closing line for the whole run: host tests and VM tests together.
test: deps
	@scripts/test.sh

# Kill QEMU at ROUNDS random points of a write load; check every
# acknowledged write after each reboot. Then CUTS power cuts of a
# recorded load (tests/vm/36-power-cut.sh), its timeout scaled to match.
# Then each script of tests/torture/ in a guest of its own.
torture: deps
	@DMR_FLAVOUR=debug scripts/crash-test.sh $(ROUNDS)
	@DMR_FLAVOUR=debug DMR_VERBOSE=1 DMR_POWERCUT_POINTS=$(CUTS) \
		DMR_TIMEOUT_SCALE=$$(( $(CUTS) / 100 + 1 )) scripts/vm-test.sh 36-power-cut
	@for t in tests/torture/*.sh; do \
		echo "# $$t"; \
		DMR_FLAVOUR=debug DMR_TIMEOUT=3600 scripts/vm-run.sh $$t || exit 1; \
	done

# Two sites on the release kernel: tests/pair/demo.sh in the primary.
demo: deps
	@DMR_FLAVOUR=release DMR_XTRACE=0 scripts/vm-pair.sh demo

# fio over RAM disks for dm-linear, dm-mirror, DRBD and the replicator,
# then memory, resync, replay and a profile; never fails on a figure.
bench: deps
	@scripts/deps.sh bench
	@QUICK=$(QUICK) scripts/bench.sh

# Not after deps: on a server, install only what the build needs
# (Documentation/install.rst). FLAVOUR only when given: without it and
# KDIR the module is built for the running kernel.
install_flavour = $(if $(filter command line environment%,$(origin FLAVOUR)),$(FLAVOUR))
install:
	@FLAVOUR=$(install_flavour) scripts/install.sh

install-dkms:
	@INSTALL_PARTS="$(or $(INSTALL_PARTS),dkms replog nbd-reconnect unit doc)" scripts/install.sh

# Hours on 2 cores with Debian's configuration; packages into the cache.
kernel-package: deps
	@scripts/kernel-package.sh $(if $(CONFIG_ONLY),--config-only)

# dm-replicator-modules-<kernelrelease> and dm-replicator-utils, into the
# cache (PKG_DIR to choose); the kernel as for make install.
module-package:
	@FLAVOUR=$(install_flavour) scripts/module-package.sh

clean:
	rm -rf target
