// SPDX-License-Identifier: GPL-2.0
/*
 * dmstat: print a dm device's status or table as `dmsetup status NAME`
 * and `dmsetup table NAME` do ("<start> <length> <type> <params>" per
 * target), with one DM_TABLE_STATUS ioctl.
 *
 *   dmstat NAME         status
 *   dmstat -t NAME      table
 *
 * The tests poll status lines in loops; under TCG a dmsetup process (a
 * dynamic binary with libdevmapper) costs about 0.6 s to start, this
 * static one a fraction of that. Built static by scripts/vm-test.sh and
 * scripts/vm-pair.sh; tests/vm/lib.sh falls back to dmsetup without it.
 * Exit status: 0, 1 if the device does not exist or the ioctl failed
 * (with dmsetup's wording on stderr), 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)

int main(int argc, char **argv)
{
	int table = 0, fd;
	const char *name;
	char *buf;
	struct dm_ioctl *io;
	struct dm_target_spec *spec;
	unsigned int i, next;

	if (argc == 3 && strcmp(argv[1], "-t") == 0)
		table = 1;
	else if (argc != 2) {
		fprintf(stderr, "usage: dmstat [-t] NAME\n");
		return 2;
	}
	name = argv[argc - 1];
	if (strlen(name) >= DM_NAME_LEN) {
		fprintf(stderr, "dmstat: name too long: %s\n", name);
		return 2;
	}
	buf = calloc(1, BUF_SIZE);
	if (!buf)
		return 1;
	io = (struct dm_ioctl *)buf;
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = BUF_SIZE;
	io->data_start = sizeof(*io);
	io->flags = table ? DM_STATUS_TABLE_FLAG : 0;
	strcpy(io->name, name);

	fd = open("/dev/mapper/control", O_RDWR);
	if (fd < 0) {
		perror("dmstat: /dev/mapper/control");
		return 1;
	}
	if (ioctl(fd, DM_TABLE_STATUS, io) < 0) {
		if (errno == ENXIO)
			fprintf(stderr, "Device %s not found\n", name);
		else
			perror("dmstat: DM_TABLE_STATUS");
		return 1;
	}
	if (io->flags & DM_BUFFER_FULL_FLAG) {
		fprintf(stderr, "dmstat: status of %s does not fit in %d bytes\n", name, BUF_SIZE);
		return 1;
	}
	next = io->data_start;
	for (i = 0; i < io->target_count; i++) {
		if (next + sizeof(*spec) > io->data_size)
			break;
		spec = (struct dm_target_spec *)(buf + next);
		printf("%llu %llu %s %s\n", (unsigned long long)spec->sector_start,
		       (unsigned long long)spec->length, spec->target_type,
		       (char *)(spec + 1));
		next = io->data_start + spec->next;
		if (i + 1 < io->target_count && spec->next == 0)
			break;
	}
	close(fd);
	return 0;
}
