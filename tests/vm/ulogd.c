// SPDX-License-Identifier: GPL-2.0
/*
 * ulogd - a minimal dm-log-userspace server for the VM tests.
 *
 * It speaks the kernel's dm-log-userspace protocol (linux/dm-log-userspace.h)
 * over the netlink connector and keeps each log in memory with the semantics
 * of dm-log's "core" log. lvm2's cmirrord needs corosync; this needs nothing.
 *
 *   ulogd [-v]        serve until killed; -v logs every request (with the
 *                     CLOCK_MONOTONIC time, as /proc/uptime gives it)
 *
 * A dirty log served by it is given in a table as
 *
 *   userspace <n> <uuid> [integrated_flush] core <region_size> [sync|nosync]
 *
 * (cmirrord's type name "clustered-core" is accepted for "core"). The
 * kernel keeps the UUID and "integrated_flush" and sends the rest, behind
 * the target's length in sectors, as the constructor string:
 *
 *   <dev_sectors> core <region_size> [sync|nosync]
 *
 * region_size is in sectors, a power of two from 2 up to dev_sectors (the
 * rule of dm-log's core log). Without sync/nosync or with "sync" every region
 * starts out of sync; "nosync" starts with all in sync.
 *
 * A log is keyed by the request's luid and uuid: a reloaded table has the
 * same uuid in its live and inactive tables, but its own luid. A request
 * that is malformed or names an unknown log gets an error reply (a negative
 * errno, as the kernel expects). Messages to stderr: "ulogd: ready" once
 * bound, one line per ctr and dtr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/connector.h>
#include <linux/dm-log-userspace.h>
#include <linux/netlink.h>

#define BITS_PER_WORD 64

struct ulog {
	struct ulog *next;
	uint64_t luid;
	char uuid[DM_UUID_LEN];
	char type[16];
	char args[128];		/* ctr words after the size, for STATUS_TABLE */
	uint64_t region_size;
	uint64_t region_count;
	uint64_t sync_count;
	uint64_t sync_search;	/* where GET_RESYNC_WORK looks next */
	uint64_t *clean_bits;
	uint64_t *sync_bits;
	uint64_t *recovering_bits;
};

static struct ulog *logs;
static int verbose;
static int cn_fd;

static const char *const req_names[] = {
	[DM_ULOG_CTR] = "CTR",
	[DM_ULOG_DTR] = "DTR",
	[DM_ULOG_PRESUSPEND] = "PRESUSPEND",
	[DM_ULOG_POSTSUSPEND] = "POSTSUSPEND",
	[DM_ULOG_RESUME] = "RESUME",
	[DM_ULOG_GET_REGION_SIZE] = "GET_REGION_SIZE",
	[DM_ULOG_IS_CLEAN] = "IS_CLEAN",
	[DM_ULOG_IN_SYNC] = "IN_SYNC",
	[DM_ULOG_FLUSH] = "FLUSH",
	[DM_ULOG_MARK_REGION] = "MARK_REGION",
	[DM_ULOG_CLEAR_REGION] = "CLEAR_REGION",
	[DM_ULOG_GET_RESYNC_WORK] = "GET_RESYNC_WORK",
	[DM_ULOG_SET_REGION_SYNC] = "SET_REGION_SYNC",
	[DM_ULOG_GET_SYNC_COUNT] = "GET_SYNC_COUNT",
	[DM_ULOG_STATUS_INFO] = "STATUS_INFO",
	[DM_ULOG_STATUS_TABLE] = "STATUS_TABLE",
	[DM_ULOG_IS_REMOTE_RECOVERING] = "IS_REMOTE_RECOVERING",
};

static const char *req_name(uint32_t type)
{
	if (type < sizeof(req_names) / sizeof(req_names[0]) && req_names[type])
		return req_names[type];
	return "?";
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ulogd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int test_bit(const uint64_t *map, uint64_t bit)
{
	return (map[bit / BITS_PER_WORD] >> (bit % BITS_PER_WORD)) & 1;
}

static void set_bit(uint64_t *map, uint64_t bit)
{
	map[bit / BITS_PER_WORD] |= 1ULL << (bit % BITS_PER_WORD);
}

static void clear_bit(uint64_t *map, uint64_t bit)
{
	map[bit / BITS_PER_WORD] &= ~(1ULL << (bit % BITS_PER_WORD));
}

/* First clear bit at or after @from, or @n if there is none. */
static uint64_t next_zero_bit(const uint64_t *map, uint64_t n, uint64_t from)
{
	for (; from < n; from++)
		if (!test_bit(map, from))
			return from;
	return n;
}

static struct ulog *find_log(const struct dm_ulog_request *rq)
{
	struct ulog *lc;

	for (lc = logs; lc; lc = lc->next)
		if (lc->luid == rq->luid && !strcmp(lc->uuid, rq->uuid))
			return lc;
	return NULL;
}

static void free_log(struct ulog *lc)
{
	free(lc->clean_bits);
	free(lc->sync_bits);
	free(lc->recovering_bits);
	free(lc);
}

static void unlink_log(struct ulog *lc)
{
	struct ulog **p;

	for (p = &logs; *p; p = &(*p)->next) {
		if (*p == lc) {
			*p = lc->next;
			return;
		}
	}
}

/* Parse a decimal u64 that must be the whole word. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno || *end) ? -1 : 0;
}

/*
 * CTR: "<dev_sectors> <type> <region_size> [sync|nosync]". Like dm-log's
 * core_ctr: clean bits all set, sync bits set only for "nosync".
 */
static int do_ctr(struct dm_ulog_request *rq, const char *data, uint32_t size)
{
	char str[512], *argv[8], *p, *save = NULL;
	uint64_t dev_sectors, region_size, words;
	struct ulog *lc, *old;
	int argc = 0, nosync = 0;
	const char *why;

	/* The first CTR carries no NUL, the one after a reconnect does. */
	size = strnlen(data, size);
	if (size >= sizeof(str)) {
		why = "constructor string too long";
		goto bad;
	}
	memcpy(str, data, size);
	str[size] = '\0';
	for (p = strtok_r(str, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (argc == (int)(sizeof(argv) / sizeof(argv[0]))) {
			why = "too many arguments";
			goto bad;
		}
		argv[argc++] = p;
	}
	if (argc < 3 || argc > 4) {
		why = "want <dev_sectors> core <region_size> [sync|nosync]";
		goto bad;
	}
	if (parse_u64(argv[0], &dev_sectors) || !dev_sectors) {
		why = "bad device size";
		goto bad;
	}
	if (strcmp(argv[1], "core") && strcmp(argv[1], "clustered-core")) {
		why = "unknown log type (want core)";
		goto bad;
	}
	if (parse_u64(argv[2], &region_size) || region_size < 2 ||
	    region_size > UINT32_MAX || (region_size & (region_size - 1)) ||
	    region_size > dev_sectors) {
		why = "bad region size (a power of two from 2 to the device size)";
		goto bad;
	}
	if (argc == 4) {
		if (!strcmp(argv[3], "nosync")) {
			nosync = 1;
		} else if (strcmp(argv[3], "sync")) {
			why = "want sync or nosync";
			goto bad;
		}
	}

	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		say("ctr %s: out of memory", rq->uuid);
		return -ENOMEM;
	}
	lc->luid = rq->luid;
	memcpy(lc->uuid, rq->uuid, DM_UUID_LEN);
	snprintf(lc->type, sizeof(lc->type), "%s", argv[1]);
	/* What STATUS_TABLE gives back: the words after the size. */
	snprintf(lc->args, sizeof(lc->args), "%s %s%s%s", argv[1], argv[2],
		 argc == 4 ? " " : "", argc == 4 ? argv[3] : "");
	lc->region_size = region_size;
	lc->region_count = (dev_sectors + region_size - 1) / region_size;
	words = (lc->region_count + BITS_PER_WORD - 1) / BITS_PER_WORD;
	lc->clean_bits = malloc(words * sizeof(uint64_t));
	lc->sync_bits = malloc(words * sizeof(uint64_t));
	lc->recovering_bits = calloc(words, sizeof(uint64_t));
	if (!lc->clean_bits || !lc->sync_bits || !lc->recovering_bits) {
		free_log(lc);
		say("ctr %s: out of memory for %" PRIu64 " regions", rq->uuid,
		    (uint64_t)((dev_sectors + region_size - 1) / region_size));
		return -ENOMEM;
	}
	memset(lc->clean_bits, 0xff, words * sizeof(uint64_t));
	memset(lc->sync_bits, nosync ? 0xff : 0, words * sizeof(uint64_t));
	lc->sync_count = nosync ? lc->region_count : 0;

	/*
	 * The same luid and uuid again: the kernel lost us (it re-sends CTR
	 * after a reconnect) or freed a log whose CTR failed after ours
	 * succeeded. The new one wins.
	 */
	old = find_log(rq);
	if (old) {
		unlink_log(old);
		free_log(old);
	}
	lc->next = logs;
	logs = lc;
	say("ctr %s luid=%" PRIx64 "%s: %" PRIu64 " regions of %" PRIu64
	    " sectors, %s", lc->uuid, lc->luid, old ? " (replaces)" : "",
	    lc->region_count, lc->region_size, nosync ? "in sync" : "out of sync");
	return 0;
bad:
	say("ctr %s luid=%" PRIx64 ": refused, %s: \"%.*s\"", rq->uuid, rq->luid,
	    why, (int)size, data);
	return -EINVAL;
}

/* A payload of regions (u64 each), all below the region count. */
static int check_regions(const struct ulog *lc, const char *data, uint32_t size,
			 int may_be_empty)
{
	uint64_t r;
	uint32_t i;

	if (size % sizeof(uint64_t) || (!size && !may_be_empty))
		return -EINVAL;
	for (i = 0; i < size; i += sizeof(uint64_t)) {
		memcpy(&r, data + i, sizeof(r));
		if (r >= lc->region_count)
			return -EINVAL;
	}
	return 0;
}

/* Mark (dirty) or clear (clean) every region of a checked payload. */
static void mark_regions(struct ulog *lc, const char *data, uint32_t size, int dirty)
{
	uint64_t r;
	uint32_t i;

	for (i = 0; i < size; i += sizeof(uint64_t)) {
		memcpy(&r, data + i, sizeof(r));
		if (dirty)
			clear_bit(lc->clean_bits, r);
		else
			set_bit(lc->clean_bits, r);
	}
}

/* A region argument (u64) below the region count. */
static int get_region(const struct ulog *lc, const char *data, uint32_t size, uint64_t *r)
{
	if (size != sizeof(*r))
		return -EINVAL;
	memcpy(r, data, sizeof(*r));
	return *r < lc->region_count ? 0 : -EINVAL;
}

/*
 * Serve one request. @in/@in_size is its payload (a copy), the reply's
 * payload goes to @out (room for @room bytes) with its size in *@out_size.
 * Returns 0 or a negative errno for the reply's error field.
 */
static int serve(struct dm_ulog_request *rq, const char *in, uint32_t in_size,
		 char *out, uint32_t room, uint32_t *out_size)
{
	struct ulog *lc;
	uint64_t r, u;
	int64_t i;
	int n;

	*out_size = 0;
	if (rq->version != DM_ULOG_REQUEST_VERSION)
		return -EINVAL;
	if (memchr(rq->uuid, '\0', DM_UUID_LEN) == NULL)
		return -EINVAL;
	if (rq->request_type == DM_ULOG_CTR)
		return do_ctr(rq, in, in_size);

	lc = find_log(rq);
	if (!lc) {
		if (rq->request_type == DM_ULOG_DTR)
			say("dtr %s luid=%" PRIx64 ": no such log", rq->uuid, rq->luid);
		return -EINVAL;
	}

	switch (rq->request_type) {
	case DM_ULOG_DTR:
		say("dtr %s luid=%" PRIx64 ": %" PRIu64 "/%" PRIu64 " regions in sync",
		    lc->uuid, lc->luid, lc->sync_count, lc->region_count);
		unlink_log(lc);
		free_log(lc);
		return 0;
	case DM_ULOG_PRESUSPEND:
	case DM_ULOG_POSTSUSPEND:
		return 0;
	case DM_ULOG_RESUME:
		/* As dm-log's disk log: recovery looks from the start again. */
		lc->sync_search = 0;
		return 0;
	case DM_ULOG_GET_REGION_SIZE:
		memcpy(out, &lc->region_size, sizeof(uint64_t));
		*out_size = sizeof(uint64_t);
		return 0;
	case DM_ULOG_IS_CLEAN:
	case DM_ULOG_IN_SYNC:
		if (get_region(lc, in, in_size, &r))
			return -EINVAL;
		i = test_bit(rq->request_type == DM_ULOG_IS_CLEAN ?
			     lc->clean_bits : lc->sync_bits, r);
		memcpy(out, &i, sizeof(i));
		*out_size = sizeof(i);
		return 0;
	case DM_ULOG_FLUSH:
		/* With integrated_flush the marks come with the flush. */
		if (check_regions(lc, in, in_size, 1))
			return -EINVAL;
		mark_regions(lc, in, in_size, 1);
		return 0;
	case DM_ULOG_MARK_REGION:
	case DM_ULOG_CLEAR_REGION:
		if (check_regions(lc, in, in_size, 0))
			return -EINVAL;
		mark_regions(lc, in, in_size, rq->request_type == DM_ULOG_MARK_REGION);
		return 0;
	case DM_ULOG_GET_RESYNC_WORK: {
		struct { int64_t i; uint64_t r; } pkg = { 0, 0 };

		/* dm-log's core_get_resync_work. */
		while (lc->sync_search < lc->region_count) {
			r = next_zero_bit(lc->sync_bits, lc->region_count, lc->sync_search);
			lc->sync_search = r + 1;
			if (r >= lc->region_count)
				break;
			if (!test_bit(lc->recovering_bits, r)) {
				set_bit(lc->recovering_bits, r);
				pkg.i = 1;
				pkg.r = r;
				break;
			}
		}
		memcpy(out, &pkg, sizeof(pkg));
		*out_size = sizeof(pkg);
		return 0;
	}
	case DM_ULOG_SET_REGION_SYNC: {
		struct { uint64_t r; int64_t i; } pkg;

		if (in_size != sizeof(pkg))
			return -EINVAL;
		memcpy(&pkg, in, sizeof(pkg));
		if (pkg.r >= lc->region_count)
			return -EINVAL;
		clear_bit(lc->recovering_bits, pkg.r);
		/* Unlike core_set_region_sync, count a region once. */
		if (pkg.i && !test_bit(lc->sync_bits, pkg.r)) {
			set_bit(lc->sync_bits, pkg.r);
			lc->sync_count++;
		} else if (!pkg.i && test_bit(lc->sync_bits, pkg.r)) {
			clear_bit(lc->sync_bits, pkg.r);
			lc->sync_count--;
		}
		return 0;
	}
	case DM_ULOG_GET_SYNC_COUNT:
		memcpy(out, &lc->sync_count, sizeof(uint64_t));
		*out_size = sizeof(uint64_t);
		return 0;
	case DM_ULOG_STATUS_INFO:
	case DM_ULOG_STATUS_TABLE:
		/* As core_status and cmirrord: no NUL, the kernel adds it. */
		if (rq->request_type == DM_ULOG_STATUS_INFO)
			n = snprintf(out, room, "1 %s", lc->type);
		else
			n = snprintf(out, room, "%s", lc->args);
		if (n < 0 || (uint32_t)n >= room)
			return -ENOSPC;
		*out_size = n;
		return 0;
	case DM_ULOG_IS_REMOTE_RECOVERING: {
		struct { int64_t is_recovering; uint64_t in_sync_hint; } pkg;

		if (get_region(lc, in, in_size, &u))
			return -EINVAL;
		/* One machine: nobody else recovers. The hint is the first
		 * region out of sync, all below it are in sync. */
		pkg.is_recovering = 0;
		pkg.in_sync_hint = next_zero_bit(lc->sync_bits, lc->region_count, 0);
		memcpy(out, &pkg, sizeof(pkg));
		*out_size = sizeof(pkg);
		return 0;
	}
	}
	return -EINVAL;
}

/* Send a connector message of @len bytes to the kernel's dm-log-userspace. */
static void cn_send(uint32_t seq, uint32_t ack, const void *data, uint32_t len)
{
	static char buf[NLMSG_SPACE(sizeof(struct cn_msg) + 4096)];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct cn_msg *msg = NLMSG_DATA(nlh);

	if (len > 4096)
		len = 0, ack = ENOSPC;
	memset(buf, 0, NLMSG_SPACE(sizeof(*msg) + len));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*msg) + len);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_pid = getpid();
	msg->id.idx = CN_IDX_DM;
	msg->id.val = CN_VAL_DM_USERSPACE_LOG;
	msg->seq = seq;
	msg->ack = ack;
	msg->len = len;
	if (len)
		memcpy(msg->data, data, len);
	while (sendto(cn_fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		      sizeof(kernel)) < 0) {
		if (errno == EINTR)
			continue;
		/* The kernel re-sends a request it got no answer to. */
		say("reply to request %u not sent: %s", seq, strerror(errno));
		return;
	}
}

/* One connector message from the kernel. */
static void handle(struct cn_msg *msg, uint32_t room)
{
	static char reply[sizeof(struct dm_ulog_request) + 1024];
	struct dm_ulog_request *rq = (struct dm_ulog_request *)msg->data;
	struct dm_ulog_request *rp = (struct dm_ulog_request *)reply;
	char in[4096];
	uint32_t in_size, out_size;

	if (msg->id.idx != CN_IDX_DM || msg->id.val != CN_VAL_DM_USERSPACE_LOG)
		return;
	/*
	 * Too short to hold a request, or longer than what came: answer
	 * with a bare error, which the kernel matches by the message's seq.
	 */
	if (msg->len > room || msg->len < sizeof(*rq) ||
	    rq->data_size > msg->len - sizeof(*rq) || rq->data_size > sizeof(in)) {
		say("malformed request %u (%u bytes)", msg->seq, msg->len);
		cn_send(msg->seq, EINVAL, NULL, 0);
		return;
	}
	in_size = rq->data_size;
	memcpy(in, rq->data, in_size);
	memcpy(rp, rq, sizeof(*rp));
	rp->error = serve(rq, in, in_size, rp->data,
			  sizeof(reply) - sizeof(*rp), &out_size);
	rp->data_size = out_size;
	if (verbose) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		say("%ld.%03ld %s %.128s luid=%" PRIx64 " seq=%u: error %d, %u bytes",
		    (long)ts.tv_sec, ts.tv_nsec / 1000000, req_name(rq->request_type),
		    rq->uuid, rq->luid, rq->seq, rp->error, out_size);
	}
	cn_send(rq->seq, 0, rp, sizeof(*rp) + out_size);
}

int main(int argc, char **argv)
{
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		/* The connector multicasts to group CN_IDX_DM. */
		.nl_groups = 1U << (CN_IDX_DM - 1),
	};
	static char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl from;
	socklen_t from_len;
	struct nlmsghdr *nlh;
	ssize_t n;
	size_t left;

	if (argc == 2 && !strcmp(argv[1], "-v")) {
		verbose = 1;
	} else if (argc != 1) {
		fprintf(stderr, "usage: ulogd [-v]\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);

	cn_fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
	if (cn_fd < 0) {
		say("socket: %s", strerror(errno));
		return 1;
	}
	if (bind(cn_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		say("bind: %s", strerror(errno));
		return 1;
	}
	say("ready");

	for (;;) {
		from_len = sizeof(from);
		n = recvfrom(cn_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Overrun: the kernel times out and re-sends. */
			if (errno == ENOBUFS) {
				say("receive buffer overrun");
				continue;
			}
			say("recv: %s", strerror(errno));
			return 1;
		}
		/* Only the kernel (port 0) sends requests. */
		if (from_len != sizeof(from) || from.nl_pid != 0)
			continue;
		left = n;
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_NOOP)
				continue;
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg)))
				continue;
			handle(NLMSG_DATA(nlh), nlh->nlmsg_len - NLMSG_LENGTH(sizeof(struct cn_msg)));
		}
	}
}
