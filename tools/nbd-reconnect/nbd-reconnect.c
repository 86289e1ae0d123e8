// SPDX-License-Identifier: GPL-2.0
/*
 * nbd-reconnect: give a connected /dev/nbdN whose connection died a new
 * socket to the same server, without closing the device: NBD handshake
 * (fixed newstyle, NBD_OPT_EXPORT_NAME), then the netlink command
 * NBD_CMD_RECONFIGURE with the new socket. Holders of the device keep it
 * open throughout.
 *
 *   nbd-reconnect [-w] [-t IO_TIMEOUT] [-D DEAD_CONN_TIMEOUT] HOST PORT EXPORT /dev/nbdN
 *
 * Without -w: one attempt; exit 0 if the kernel accepted the socket.
 * With -w: stay running; whenever the kernel reports the device's link dead
 * (NBD_CMD_LINK_DEAD multicast), reconnect, retrying every second until the
 * server answers.
 *
 * Note: the kernel only replaces a socket it has marked dead (after an I/O
 * timeout or a receive error); otherwise it keeps the old one and still
 * answers 0. It logs "nbdN: reconnected socket" when it took the new one.
 * The device must have been connected through netlink (nbd-client's
 * default mode): ioctl-mode devices cannot be reconfigured.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host, *port, *export;

/* A message on stderr, stamped with the uptime (as /proc/uptime). */
static void say(const char *fmt, ...)
{
	struct timespec t;
	va_list ap;
	int e = errno;

	clock_gettime(CLOCK_BOOTTIME, &t);
	fprintf(stderr, "[%ld.%02ld] nbd-reconnect: ", (long)t.tv_sec, t.tv_nsec / 10000000);
	va_start(ap, fmt);
	errno = e;
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
static unsigned index_;
static long long io_timeout = -1, dead_timeout = -1;

static int readall(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

static int writeall(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

/* TCP connection to the server, through the handshake; -1 on failure. */
static int nbd_connect(int verbose)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char magic[16];
	uint16_t hflags;
	uint32_t cflags, opt[4], nlen = strlen(export);
	uint64_t size;
	struct timeval tmo = { .tv_sec = 2 };
	int fd, one = 1, e;

	e = getaddrinfo(host, port, &hints, &ai);
	if (e) {
		say("%s: %s\n", host, gai_strerror(e));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	/* Bounded connect and handshake: an absent server must not block
	 * for the minutes of TCP's SYN retries. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (verbose)
			say("connect %s:%s: %m\n", host, port);
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A server that just started (a guest under emulation) may take
	 * seconds to greet. */
	tmo.tv_sec = 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (readall(fd, magic, 16) || readall(fd, &hflags, 2)) {
		say("no greeting from %s:%s: %m\n", host, port);
		goto fail;
	}
	if (memcmp(magic, "NBDMAGICIHAVEOPT", 16)) {
		say("not a newstyle NBD server\n");
		goto fail;
	}
	hflags = ntohs(hflags);
	/* NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES if offered. */
	cflags = htonl((hflags & 1) | (hflags & 2));
	memcpy(opt, "IHAVEOPT", 8);
	opt[2] = htonl(1); /* NBD_OPT_EXPORT_NAME */
	opt[3] = htonl(nlen);
	if (writeall(fd, &cflags, 4) || writeall(fd, opt, 16) ||
	    writeall(fd, export, nlen)) {
		say("handshake: %m\n");
		goto fail;
	}
	/* Export size, transmission flags, 124 zeroes unless NO_ZEROES. */
	char reply[8 + 2 + 124];

	if (readall(fd, reply, (hflags & 2) ? 10 : sizeof(reply))) {
		say("server closed the connection (no export \"%s\"?)\n", export);
		goto fail;
	}
	memcpy(&size, reply, 8);
	/* The kernel's receive thread must block without a limit; it sets
	 * the send timeout itself. */
	tmo.tv_sec = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		say("setsockopt: %m\n");
		goto fail;
	}
	if (verbose)
		say("%s:%s export \"%s\": %llu bytes\n", host, port,
			export, (unsigned long long)be64toh(size));
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* --- generic netlink ----------------------------------------------------- */

struct msg {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char buf[1024];
};

static struct nlattr *put(struct msg *m, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->nh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nh.nlmsg_len = NLMSG_ALIGN(m->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

/* Close a nest opened with put(m, type | NLA_F_NESTED, NULL, 0). */
static void end(struct msg *m, struct nlattr *a)
{
	a->nla_len = (char *)m + m->nh.nlmsg_len - (char *)a;
}

static void init(struct msg *m, int family, int cmd, int flags)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nh.nlmsg_type = family;
	m->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	m->gh.cmd = cmd;
	m->gh.version = 1;
}

/* Send m and read the answer into r; the error of an NLMSG_ERROR, else 0. */
static int talk(int nl, struct msg *m, struct msg *r)
{
	ssize_t n;

	if (send(nl, m, m->nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(nl, r, sizeof(*r), 0);
	if (n < 0)
		return -errno;
	if (r->nh.nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(&r->nh))->error;
	return 0;
}

/* Call f for each attribute in [a, a + len). */
#define for_attrs(a, start, len) \
	for (a = (struct nlattr *)(start); (char *)a + NLA_HDRLEN <= (char *)(start) + (len) && \
	     a->nla_len >= NLA_HDRLEN; a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
#define attr_data(a) ((char *)(a) + NLA_HDRLEN)

static int family, mcgroup;

/* The nbd family's id and its multicast group. */
static int resolve(int nl)
{
	struct msg m, r;
	struct nlattr *a, *g, *x;
	int e;

	init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	put(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME, sizeof(NBD_GENL_FAMILY_NAME));
	e = talk(nl, &m, &r);
	if (e) {
		say("no nbd netlink family: %s\n", strerror(-e));
		return -1;
	}
	for_attrs(a, r.buf, r.nh.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			family = *(uint16_t *)attr_data(a);
		if (a->nla_type == CTRL_ATTR_MCAST_GROUPS)
			for_attrs(g, attr_data(a), a->nla_len - NLA_HDRLEN)
				for_attrs(x, attr_data(g), g->nla_len - NLA_HDRLEN)
					if (x->nla_type == CTRL_ATTR_MCAST_GRP_ID)
						mcgroup = *(uint32_t *)attr_data(x);
	}
	return family ? 0 : -1;
}

/* One reconnection attempt: 0 if the kernel took a new socket. */
static int reconnect(int verbose)
{
	struct msg m, r;
	struct nlattr *socks, *item;
	uint32_t fd32;
	int nl, fd, e;

	fd = nbd_connect(verbose);
	if (fd < 0)
		return -1;
	nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (nl < 0 || resolve(nl)) {
		close(fd);
		return -1;
	}
	init(&m, family, NBD_CMD_RECONFIGURE, NLM_F_ACK);
	put(&m, NBD_ATTR_INDEX, &index_, 4);
	if (io_timeout >= 0)
		put(&m, NBD_ATTR_TIMEOUT, &io_timeout, 8);
	if (dead_timeout >= 0)
		put(&m, NBD_ATTR_DEAD_CONN_TIMEOUT, &dead_timeout, 8);
	socks = put(&m, NBD_ATTR_SOCKETS | NLA_F_NESTED, NULL, 0);
	item = put(&m, NBD_SOCK_ITEM | NLA_F_NESTED, NULL, 0);
	fd32 = fd;
	put(&m, NBD_SOCK_FD, &fd32, 4);
	end(&m, item);
	end(&m, socks);
	e = talk(nl, &m, &r);
	close(nl);
	close(fd); /* the kernel holds its own reference */
	if (e) {
		say("NBD_CMD_RECONFIGURE nbd%u: %s\n", index_, strerror(-e));
		return -1;
	}
	say("nbd%u: new connection to %s:%s handed to the kernel\n",
		index_, host, port);
	return 0;
}

/* -w: reconnect after each NBD_CMD_LINK_DEAD for our device. */
static int watch(void)
{
	struct msg r;
	struct nlattr *a;
	int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);

	if (nl < 0 || resolve(nl) || !mcgroup ||
	    setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &mcgroup, sizeof(mcgroup))) {
		say("cannot watch the nbd multicast group\n");
		return 1;
	}
	say("watching nbd%u\n", index_);
	for (;;) {
		ssize_t n = recv(nl, &r, sizeof(r), 0);
		int dead = 0;

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			say("netlink: %m\n");
			return 1;
		}
		if (r.nh.nlmsg_type != family || r.gh.cmd != NBD_CMD_LINK_DEAD)
			continue;
		for_attrs(a, r.buf, r.nh.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN))
			if (a->nla_type == NBD_ATTR_INDEX && *(uint32_t *)attr_data(a) == index_)
				dead = 1;
		if (!dead)
			continue;
		say("nbd%u: link dead, reconnecting\n", index_);
		while (reconnect(1))
			sleep(1);
	}
}

int main(int argc, char **argv)
{
	int c, w = 0;

	while ((c = getopt(argc, argv, "wt:D:")) != -1) {
		switch (c) {
		case 'w': w = 1; break;
		case 't': io_timeout = atoll(optarg); break;
		case 'D': dead_timeout = atoll(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 4 || sscanf(argv[optind + 3], "/dev/nbd%u", &index_) != 1)
		goto usage;
	host = argv[optind];
	port = argv[optind + 1];
	export = argv[optind + 2];
	if (w)
		return watch();
	return reconnect(1) ? 1 : 0;
usage:
	fprintf(stderr, "usage: nbd-reconnect [-w] [-t IO_TIMEOUT] [-D DEAD_CONN_TIMEOUT] HOST PORT EXPORT /dev/nbdN\n");
	return 2;
}
