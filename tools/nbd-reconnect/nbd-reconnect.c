// SPDX-License-Identifier: GPL-2.0
/*
 * nbd-reconnect: give an NBD device whose connection died a new connection
 * to its server, while the device stays open.
 *
 *   nbd-reconnect [-w [-s]] [-t SECS] [-D SECS] [-r SECS] HOST PORT EXPORT /dev/nbdN
 *
 * Why a tool of its own. A device-mapper table (a replicator's remote site
 * link, or any other target) holds its /dev/nbdN open for as long as the
 * table exists. When the server or the network goes away, the kernel marks
 * the device's connection dead and fails its I/O; the device must then work
 * again without anyone closing it. nbd-client cannot do that: in netlink
 * mode (its default) it configures the device and exits, and it has no
 * command that gives a configured device a new connection; its -persist
 * works only in the old ioctl mode and only while nobody holds the device
 * (the kernel keeps a held device's old configuration, so the next
 * NBD_DO_IT fails with EBUSY); and disconnecting the device to connect it
 * again is impossible while device-mapper holds it. The kernel's generic
 * netlink command NBD_CMD_RECONFIGURE, however, takes a new socket in place
 * of a dead connection of a configured device, open or not.
 *
 * What it does: connect to HOST:PORT, do the NBD handshake (fixed
 * newstyle, NBD_OPT_EXPORT_NAME) for EXPORT, and hand the socket to the
 * kernel with NBD_CMD_RECONFIGURE. With -w it stays running and does that
 * whenever the kernel reports the device's connection dead (the
 * NBD_CMD_LINK_DEAD multicast), retrying every -r seconds (1) until the
 * server answers; SIGTERM or SIGINT end it (status 0).
 *
 * Limits: the kernel replaces only a connection it has marked dead (after
 * an I/O timeout or a receive error); otherwise it keeps the old one and
 * still answers success. It logs "nbdN: reconnected socket" when it took
 * the new one. The device must have been connected through netlink
 * (nbd-client's default); ioctl-mode devices cannot be reconfigured.
 * Plain NBD only (no TLS), one connection per device; a device configured
 * with a backend identifier (NBD_ATTR_BACKEND_IDENTIFIER) is refused by
 * the kernel, as no identifier is sent. It needs CAP_SYS_ADMIN.
 *
 * Built and installed by `make install` (scripts/install.sh); the systemd
 * unit nbd-reconnect@.service runs it for one device. See
 * Documentation/install.rst, "Reconnection".
 */
#define _GNU_SOURCE /* ppoll */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Exit status. */
enum {
	RC_OK = 0,	/* the kernel took the socket; -w: stopped by a signal */
	RC_SERVER = 1,	/* the server could not be reached, or refused */
	RC_USAGE = 2,	/* bad command line */
	RC_KERNEL = 3,	/* the kernel refused, or netlink failed */
};

static const char usage_text[] =
"usage: nbd-reconnect [-w [-s]] [-t SECS] [-D SECS] [-r SECS] HOST PORT EXPORT /dev/nbdN\n"
"       nbd-reconnect -h | --help\n"
"\n"
"Give /dev/nbdN a new connection to export EXPORT of the NBD server at\n"
"HOST:PORT without closing the device (netlink NBD_CMD_RECONFIGURE): for a\n"
"device that device-mapper holds open and whose connection died, which\n"
"nbd-client cannot reconnect.\n"
"\n"
"  (no -w)   one attempt, then exit\n"
"  -w        watch: whenever the kernel reports the device's connection\n"
"            dead, reconnect it, trying every -r seconds until the server\n"
"            answers; runs until SIGTERM or SIGINT\n"
"  -s        with -w: also reconnect once at start, for a connection that\n"
"            died while nothing watched it (the kernel keeps a live one)\n"
"  -t SECS   set the device's I/O timeout along with the new connection\n"
"  -D SECS   set its dead-connection timeout (I/O waits that long for a\n"
"            reconnection before it fails)\n"
"  -r SECS   seconds between attempts with -w (default 1)\n"
"  -h, --help  this text\n"
"\n"
"The device must have been connected through netlink (nbd-client's\n"
"default). Plain NBD (no TLS). Needs CAP_SYS_ADMIN. The kernel replaces\n"
"only a dead connection; it logs \"nbdN: reconnected socket\" when it does.\n"
"\n"
"Exit status: 0 the kernel accepted the connection (-w: stopped by SIGTERM\n"
"or SIGINT), 1 the server could not be reached or refused the export,\n"
"2 usage error, 3 the kernel refused or netlink failed (nbd module not\n"
"loaded, device not connected, not permitted).\n";

static const char *host, *port, *export;
static char addr[300];		/* HOST:PORT, or [HOST]:PORT */
static unsigned int index_;	/* N of /dev/nbdN */
static long long io_timeout = -1, dead_timeout = -1;
static unsigned int retry = 1;

/* The reason for the last failure, for the caller to log or not. */
static char why[600];
/* The error of the last failed netlink step (positive errno), or 0. */
static int kernel_err;

static volatile sig_atomic_t stop_sig;
static sigset_t stop_set;

/* "[uptime] nbd-reconnect: nbdN: MESSAGE" on stderr, in one write. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char line[1024];
	struct timespec t;
	va_list ap;
	int e = errno, n;

	clock_gettime(CLOCK_BOOTTIME, &t);
	n = snprintf(line, sizeof(line), "[%ld.%02ld] nbd-reconnect: nbd%u: ",
		     (long)t.tv_sec, t.tv_nsec / 10000000, index_);
	va_start(ap, fmt);
	errno = e;
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere to report it. */
	}
	errno = e;
}

static void __attribute__((format(printf, 1, 2))) set_why(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	errno = e;
}

static const char *errstr(int e)
{
	if (e == EAGAIN || e == EINPROGRESS)
		return "timed out";
	if (e == ECONNRESET)
		return "connection closed by the server";
	return strerror(e);
}

static long now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void on_signal(int sig)
{
	stop_sig = sig;
}

/*
 * Wait until fd is readable (fd >= 0) or secs seconds have passed (secs < 0:
 * no limit), with SIGTERM and SIGINT let in only here, so that one that
 * comes just before the wait is not lost. 1: readable, 0: time is up,
 * -1: a stop signal came.
 */
static int wait_for(int fd, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = secs };
	sigset_t old, open;
	int r;

	sigprocmask(SIG_BLOCK, &stop_set, &old);
	open = old;
	sigdelset(&open, SIGTERM);
	sigdelset(&open, SIGINT);
	r = stop_sig ? -1 : ppoll(fd >= 0 ? &p : NULL, fd >= 0, secs >= 0 ? &ts : NULL, &open);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (stop_sig)
		return -1;
	if (r < 0)
		return 0;	/* EINTR from another signal: as if time were up */
	return r > 0;
}

/* --- the NBD handshake --------------------------------------------------- */

static int set_timeouts(int fd, int secs)
{
	struct timeval tmo = { .tv_sec = secs };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) ||
	       setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) ? -1 : 0;
}

/* Read n bytes; -1 with errno (ECONNRESET for an early end, EAGAIN for a
 * timeout, EINTR for a signal). */
static int readall(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = recv(fd, p, n, 0);

		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* MSG_NOSIGNAL: a server that went away is an error, not a SIGPIPE. */
static int writeall(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* The size of /dev/nbdN in bytes, from sysfs; 0 if unknown. */
static unsigned long long device_bytes(void)
{
	char path[64];
	unsigned long long sectors = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/nbd%u/size", index_);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &sectors) != 1)
		sectors = 0;
	fclose(f);
	return sectors << 9;
}

/*
 * The handshake on a connected socket, up to the transmission phase; the
 * export's size in *size. Each answer of the server may take 20 s (a
 * server that just started may be slow to greet). 0, or -1 with why set.
 */
static int handshake(int fd, uint64_t *size)
{
	char magic[16], reply[8 + 2 + 124];
	uint16_t hflags;
	uint32_t cflags, opt[4], nlen = strlen(export);
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (set_timeouts(fd, 20)) {
		set_why("setsockopt: %s", strerror(errno));
		return -1;
	}
	if (readall(fd, magic, 16) || readall(fd, &hflags, 2)) {
		set_why("%s: no NBD greeting: %s", addr, errstr(errno));
		return -1;
	}
	if (memcmp(magic, "NBDMAGICIHAVEOPT", 16)) {
		set_why("%s: not a newstyle NBD server", addr);
		return -1;
	}
	hflags = ntohs(hflags);
	/* NBD_FLAG_C_FIXED_NEWSTYLE and NBD_FLAG_C_NO_ZEROES, if offered. */
	cflags = htonl(hflags & 3);
	memcpy(opt, "IHAVEOPT", 8);
	opt[2] = htonl(1); /* NBD_OPT_EXPORT_NAME */
	opt[3] = htonl(nlen);
	if (writeall(fd, &cflags, 4) || writeall(fd, opt, 16) || writeall(fd, export, nlen)) {
		set_why("%s: handshake: %s", addr, errstr(errno));
		return -1;
	}
	/* Export size, transmission flags, 124 zeroes unless NO_ZEROES. */
	if (readall(fd, reply, (hflags & 2) ? 10 : sizeof(reply))) {
		if (errno == ECONNRESET)
			set_why("%s closed the connection after the export name: no export \"%s\" there, "
				"or this host is not in its authfile", addr, export);
		else
			set_why("%s: no answer to the export name \"%s\": %s", addr, export, errstr(errno));
		return -1;
	}
	memcpy(size, reply, 8);
	*size = be64toh(*size);
	/* The kernel's receive thread must block without a limit; it sets
	 * the send timeout itself. */
	if (set_timeouts(fd, 0)) {
		set_why("setsockopt: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A TCP connection to the server through the handshake: the socket, or -1
 * with why set. Each address of HOST is tried in turn, each connect
 * limited to 2 s: an absent server must not block for the minutes of
 * TCP's SYN retries.
 */
static int nbd_connect(uint64_t *size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP };
	struct addrinfo *res, *ai;
	char num[INET6_ADDRSTRLEN];
	int fd = -1, e;

	e = getaddrinfo(host, port, &hints, &res);
	if (e) {
		set_why("cannot resolve %s: %s", host,
			e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		return -1;
	}
	for (ai = res; ai && !stop_sig; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			set_why("%s: socket: %s", addr, strerror(errno));
			continue;
		}
		if (!set_timeouts(fd, 2) && !connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		e = errno;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0,
				NI_NUMERICHOST) || !strcmp(num, host))
			set_why("connect to %s: %s", addr, errstr(e));
		else
			set_why("connect to %s (%s): %s", addr, num, errstr(e));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0 && handshake(fd, size)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* --- generic netlink ------------------------------------------------------ */

struct msg {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char buf[8192];
};

static struct nlattr *put(struct msg *m, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->nh.nlmsg_len));

	/* The messages here are small and fixed: more is a bug. */
	if (NLMSG_ALIGN(m->nh.nlmsg_len) + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(*m))
		abort();
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
	memset(m, 0, offsetof(struct msg, buf));
	m->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nh.nlmsg_type = family;
	m->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	m->gh.cmd = cmd;
	m->gh.version = NBD_GENL_VERSION;
}

/* Each attribute in [start, start + len). */
#define for_attrs(a, start, len) \
	for (a = (struct nlattr *)(start); \
	     (char *)a + NLA_HDRLEN <= (char *)(start) + (len) && a->nla_len >= NLA_HDRLEN && \
	     (char *)a + a->nla_len <= (char *)(start) + (len); \
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
#define attr_data(a) ((char *)(a) + NLA_HDRLEN)
#define attr_len(a) ((int)(a)->nla_len - NLA_HDRLEN)
#define attrs_len(nh) ((int)(nh)->nlmsg_len - (int)NLMSG_LENGTH(GENL_HDRLEN))

/* A generic netlink socket whose answers may take 5 s; -1 with why set. */
static int nl_open(void)
{
	struct timeval tmo = { .tv_sec = 5 };
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (nl < 0 || setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		set_why("generic netlink socket: %s", strerror(errno));
		if (nl >= 0)
			close(nl);
		return -1;
	}
	return nl;
}

/* Send m and read its answer into r: the error of an NLMSG_ERROR
 * (negative), else 0. */
static int talk(int nl, struct msg *m, struct msg *r)
{
	static uint32_t seq;
	ssize_t n;

	m->nh.nlmsg_seq = ++seq;
	if (send(nl, m, m->nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(nl, r, sizeof(*r), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if ((size_t)n < NLMSG_LENGTH(GENL_HDRLEN) || r->nh.nlmsg_len > (size_t)n)
			return -EPROTO;
		if (r->nh.nlmsg_seq != m->nh.nlmsg_seq)
			continue;
		if (r->nh.nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(&r->nh))->error;
		return 0;
	}
}

static int family;
static uint32_t mcgroup;

/* The nbd family's id and its multicast group; -1 with why set. */
static int resolve(int nl)
{
	struct msg m, r;
	struct nlattr *a, *g, *x;
	uint32_t id;
	int e, named;

	init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	m.gh.version = 1;
	put(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME, sizeof(NBD_GENL_FAMILY_NAME));
	e = talk(nl, &m, &r);
	kernel_err = -e;
	if (e == -ENOENT) {
		set_why("the kernel has no nbd netlink family: is the nbd module loaded (modprobe nbd)?");
		return -1;
	}
	if (e) {
		set_why("looking up the nbd netlink family: %s", strerror(-e));
		return -1;
	}
	family = 0;
	mcgroup = 0;
	for_attrs(a, r.buf, attrs_len(&r.nh)) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID && attr_len(a) >= 2)
			family = *(uint16_t *)attr_data(a);
		if (a->nla_type != CTRL_ATTR_MCAST_GROUPS)
			continue;
		for_attrs(g, attr_data(a), attr_len(a)) {
			id = 0;
			named = 0;
			for_attrs(x, attr_data(g), attr_len(g)) {
				if (x->nla_type == CTRL_ATTR_MCAST_GRP_ID && attr_len(x) >= 4)
					id = *(uint32_t *)attr_data(x);
				if (x->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
				    !strncmp(attr_data(x), NBD_GENL_MCAST_GROUP_NAME, attr_len(x)))
					named = 1;
			}
			if (id && (named || !mcgroup))
				mcgroup = id;
		}
	}
	if (!family) {
		kernel_err = EPROTO;
		set_why("no id in the kernel's answer for the nbd netlink family");
		return -1;
	}
	return 0;
}

/* --- reconnection ----------------------------------------------------------- */

/*
 * One reconnection: RC_OK if the kernel took the new socket (or kept a
 * live one), RC_SERVER if the server could not be reached or refused,
 * RC_KERNEL if the kernel refused (kernel_err) or netlink failed; why says
 * what failed.
 */
static int reconnect(void)
{
	struct msg m, r;
	struct nlattr *socks, *item;
	unsigned long long dev_bytes;
	uint64_t size;
	uint32_t fd32;
	int nl, fd, e;

	kernel_err = 0;
	/* The kernel's side first: without it, no need to bother the server. */
	nl = nl_open();
	if (nl < 0) {
		kernel_err = errno;
		return RC_KERNEL;
	}
	if (resolve(nl)) {
		close(nl);
		return RC_KERNEL;
	}
	fd = nbd_connect(&size);
	if (fd < 0) {
		close(nl);
		return RC_SERVER;
	}
	/* Beyond a block's rounding, a different size means a wrong
	 * EXPORT, or an export that changed: the device keeps its size. */
	dev_bytes = device_bytes();
	if (dev_bytes && (dev_bytes > size ? dev_bytes - size : size - dev_bytes) >= 4096)
		say("warning: export \"%s\" at %s has %llu bytes, the device %llu: is it the same export?",
		    export, addr, (unsigned long long)size, dev_bytes);
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
		kernel_err = -e;
		if (e == -EPERM)
			set_why("NBD_CMD_RECONFIGURE: not permitted (needs CAP_SYS_ADMIN: run as root)");
		else if (e == -EINVAL)
			set_why("the kernel refused NBD_CMD_RECONFIGURE: %s (no such device, not connected, "
				"connected without netlink, or with a backend identifier; see the kernel log)",
				strerror(EINVAL));
		else
			set_why("NBD_CMD_RECONFIGURE: %s", strerror(-e));
		return RC_KERNEL;
	}
	say("new connection to %s (export \"%s\", %llu bytes) handed to the kernel",
	    addr, export, (unsigned long long)size);
	return RC_OK;
}

/*
 * -w: reconnect until the kernel takes a connection, an attempt every
 * `retry` seconds. A failure is logged at once, then once a minute. 0 when
 * done, or when the kernel refused the device (EINVAL: disconnected, or
 * not connected through netlink) or has no nbd family: then back to
 * watching. RC_KERNEL when it can never work (not permitted); -1 when a
 * stop signal came.
 */
static int heal(void)
{
	long start = now(), logged = 0;
	unsigned long tries = 0;
	int rc;

	for (;;) {
		tries++;
		rc = reconnect();
		if (rc == RC_OK) {
			if (tries > 1)
				say("reconnected after %lu attempts in %ld s", tries, now() - start);
			return 0;
		}
		if (stop_sig)
			return -1;
		if (rc == RC_KERNEL &&
		    (kernel_err == EPERM || kernel_err == EINVAL || kernel_err == ENOENT)) {
			say("%s", why);
			if (kernel_err == EPERM)
				return RC_KERNEL;
			say("not retrying: waiting for the next dead-connection event");
			return 0;
		}
		if (tries == 1) {
			say("%s; trying again every %u s", why, retry);
			logged = now();
		} else if (now() - logged >= 60) {
			say("still no connection after %lu attempts in %ld s: %s", tries, now() - start, why);
			logged = now();
		}
		if (wait_for(-1, retry) < 0)
			return -1;
	}
}

/* Whether the multicast message nh says the device's connection is dead. */
static int link_dead(struct nlmsghdr *nh)
{
	struct genlmsghdr *gh = NLMSG_DATA(nh);
	struct nlattr *a;

	if (nh->nlmsg_type != family || nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN) ||
	    gh->cmd != NBD_CMD_LINK_DEAD)
		return 0;
	for_attrs(a, (char *)gh + GENL_HDRLEN, attrs_len(nh))
		if (a->nla_type == NBD_ATTR_INDEX && attr_len(a) >= 4 &&
		    *(uint32_t *)attr_data(a) == index_)
			return 1;
	return 0;
}

/* -w: reconnect after each NBD_CMD_LINK_DEAD for the device. */
static int watch(int at_start)
{
	struct sigaction sa = { .sa_handler = on_signal }, old;
	struct nlmsghdr *nh;
	struct msg r;
	ssize_t n;
	int nl, rc = 0;

	/* No SA_RESTART: a blocking call returns EINTR. A shell starts a
	 * background job with SIGINT ignored: leave it so. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (!sigaction(SIGINT, NULL, &old) && old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	nl = nl_open();
	if (nl < 0 || resolve(nl)) {
		say("cannot watch the device: %s", why);
		return RC_KERNEL;
	}
	if (!mcgroup) {
		say("cannot watch the device: the nbd netlink family has no multicast group");
		return RC_KERNEL;
	}
	if (setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &mcgroup, sizeof(mcgroup))) {
		say("cannot watch the device: joining the nbd multicast group: %s", strerror(errno));
		return RC_KERNEL;
	}
	say("watching (server %s, export \"%s\")", addr, export);
	/* Subscribed first: a death during this attempt is not missed. */
	if (at_start) {
		say("reconnecting once at start");
		rc = heal();
	}
	while (rc == 0) {
		if (wait_for(nl, -1) < 0)
			break;
		n = recv(nl, &r, sizeof(r), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ENOBUFS) {
				/* Notifications were lost: one may have been ours. */
				say("missed kernel notifications (netlink overrun): reconnecting in case");
				rc = heal();
				continue;
			}
			say("netlink: %s", strerror(errno));
			return RC_KERNEL;
		}
		for (nh = &r.nh; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (!link_dead(nh))
				continue;
			say("connection dead, reconnecting to %s", addr);
			rc = heal();
			break;
		}
	}
	close(nl);
	if (rc > 0)
		return rc;
	say("stopping (%s)", strsignal(stop_sig ? stop_sig : SIGTERM));
	return RC_OK;
}

/* --- command line ------------------------------------------------------------- */

static void __attribute__((format(printf, 1, 2), noreturn)) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("nbd-reconnect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'nbd-reconnect --help'.\n", stderr);
	exit(RC_USAGE);
}

/* A decimal number in [min, max], else a usage error naming what. */
static long long number(const char *s, long long min, long long max, const char *what)
{
	char *e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (s[0] < '0' || s[0] > '9' || *e || errno || v < min || v > max)
		usage_error("%s must be a number from %lld to %lld, not '%s'", what, min, max, s);
	return v;
}

/* /dev/nbdN or nbdN: N, else a usage error. */
static unsigned int device_index(const char *s)
{
	const char *d = s;

	if (!strncmp(d, "/dev/", 5))
		d += 5;
	if (strncmp(d, "nbd", 3) || !d[3])
		usage_error("the device must be /dev/nbdN, not '%s'", s);
	return number(d + 3, 0, 1 << 20, "the N of /dev/nbdN");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, w = 0, s = 0;

	while ((c = getopt_long(argc, argv, "wst:D:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w': w = 1; break;
		case 's': s = 1; break;
		case 't': io_timeout = number(optarg, 0, 1LL << 32, "-t"); break;
		case 'D': dead_timeout = number(optarg, 0, 1LL << 32, "-D"); break;
		case 'r': retry = number(optarg, 1, 3600, "-r"); break;
		case 'h': fputs(usage_text, stdout); return RC_OK;
		default: usage_error("unknown option or missing argument");
		}
	}
	if (argc - optind != 4)
		usage_error("expected HOST PORT EXPORT /dev/nbdN, got %d argument%s",
			    argc - optind, argc - optind == 1 ? "" : "s");
	if (s && !w)
		usage_error("-s goes with -w");
	host = argv[optind];
	port = argv[optind + 1];
	export = argv[optind + 2];
	index_ = device_index(argv[optind + 3]);
	if (!*host)
		usage_error("empty HOST");
	number(port, 1, 65535, "PORT");
	if (!*export || strlen(export) > 4096)
		usage_error("EXPORT must have 1 to 4096 bytes");
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%.256s]:%s" : "%.256s:%s", host, port);
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	if (w)
		return watch(s);
	c = reconnect();
	if (c != RC_OK)
		say("%s", why);
	return c;
}
