// SPDX-License-Identifier: GPL-2.0
/*
 * unstable: O_DIRECT writes from a buffer that another thread keeps
 * changing while they are in flight, as an application that reuses its
 * buffer too early (or a page redirtied during writeback) does.
 *
 *   unstable DEV COUNT BLOCKS [SEED]
 *
 * Writes COUNT 4 KiB blocks at pseudo-random block offsets below BLOCKS
 * of DEV, one at a time, each from the same page, while a second thread
 * rewrites that page without pause. What reaches the device is whatever
 * the page held when each layer read it: a device that reads the page
 * more than once (to checksum, to log, to apply) can disagree with
 * itself. Built static by scripts/vm-test.sh; used by 35-stable-data.
 * Exit status: 0, 1 on an I/O error, 2 for bad usage.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096

static unsigned char *page;
static atomic_int stop;

static void *scribbler(void *arg)
{
	uint64_t x = (uintptr_t)arg | 1;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* xorshift64: new bytes over the whole page, word by word. */
		for (size_t i = 0; i < BLOCK / sizeof(x); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			__atomic_store_n((uint64_t *)page + i, x, __ATOMIC_RELAXED);
		}
		/* A guest may have one CPU: let the writer and the kernel's
		 * work items run between rewrites, or every wakeup waits for
		 * this thread's time slice. */
		sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long count, blocks, seed = 1;
	pthread_t t;
	int fd, rc = 0;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: unstable DEV COUNT BLOCKS [SEED]\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 0);
	blocks = strtoul(argv[3], NULL, 0);
	if (argc == 5)
		seed = strtoul(argv[4], NULL, 0);
	if (!blocks) {
		fprintf(stderr, "unstable: BLOCKS must be at least 1\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (posix_memalign((void **)&page, BLOCK, BLOCK)) {
		fprintf(stderr, "unstable: no memory\n");
		return 1;
	}
	memset(page, 0, BLOCK);
	if (pthread_create(&t, NULL, scribbler, (void *)(uintptr_t)(seed * 2654435761u))) {
		fprintf(stderr, "unstable: cannot start the scribbling thread\n");
		return 1;
	}
	for (unsigned long i = 0; i < count; i++) {
		/* An LCG over the block numbers: repeats, and overlaps. */
		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		off_t off = (off_t)((seed >> 33) % blocks) * BLOCK;

		if (pwrite(fd, page, BLOCK, off) != BLOCK) {
			perror("unstable: pwrite");
			rc = 1;
			break;
		}
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	if (fsync(fd)) {
		perror("unstable: fsync");
		rc = 1;
	}
	close(fd);
	return rc;
}
