/*
 * front.c: the front of the callback listener, one process for the cluster.
 *
 * It accepts connections on gateway.listen_address, reads (without taking
 * it off the socket) the first line of each connection's first request,
 * and hands the connection to a listener of the database its URL names (to
 * each of its gateway.listeners in turn):
 * /<database>/<account>/<kind>, or /<account>/<kind> for gateway.database
 * (URLs made before 0.3.0).  The descriptor goes over a Unix datagram
 * socket (SCM_RIGHTS, see listener.c); that listener reads the request from
 * its start.  The front answers by itself only when no listener can: 404
 * for a database that does not exist or a path that names none, 503 for a
 * database none of whose listeners runs (no extension, being dropped,
 * starting), 400 for a first line that is not HTTP.
 *
 * It is a background worker connected to no database; it reads pg_database
 * (a shared catalog) only to tell 404 from 503.
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "callback.h"
#include "compat.h"
#include "launcher.h"
#include "listener.h"
#include "monitor.h"
#include "shmem.h"
#include "stats.h"
#include "worker.h"

PGDLLEXPORT void gw_front_main(Datum arg);

/* The longest first line read: method, path with the token, version. */
#define GW_FRONT_LINE_MAX 2048

/* A connection whose first line has not all come yet. */
typedef struct GwFrontConn
{
	dlist_node	node;
	int			fd;
	struct sockaddr_storage addr;
	socklen_t	addrlen;
	TimestampTz since;
	bool		waiting;		/* its listeners' queues were full: retry */
	bool		metrics;		/* (then: for /metrics, */
	char		name[NAMEDATALEN];	/* else for this database) */
} GwFrontConn;

static dlist_head gw_front_conns = DLIST_STATIC_INIT(gw_front_conns);
static int	gw_front_nconns = 0;
static int	gw_front_handoff = -1;	/* the datagram socket we send from */
static int	gw_front_nwaiting = 0;	/* connections with waiting set */
static uint32 gw_front_turns[GW_MAX_DATABASES];	/* go round each database's listeners */

void
gw_front_register(void)
{
	BackgroundWorker bgw;

	gw_bgw_init(&bgw, "gw_front_main", "gateway listener front");
	bgw.bgw_restart_time = 5;
	RegisterBackgroundWorker(&bgw);
}

/* Listen on gateway.listen_address; a non-blocking socket. */
static int
gw_front_bind(void)
{
	char	   *addr = pstrdup(gw_listen_address);
	char	   *colon = strrchr(addr, ':');
	char	   *host = addr;
	struct addrinfo hints;
	struct addrinfo *ai;
	int			rc;
	int			fd;
	int			on = 1;

	if (colon == NULL || colon[1] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid gateway.listen_address \"%s\"", gw_listen_address),
				 errhint("Use host:port, e.g. 127.0.0.1:8787, or [::1]:8787.")));
	*colon = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		host[strlen(host) - 1] = '\0';
		host++;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid gateway.listen_address \"%s\": %s", gw_listen_address, gai_strerror(rc))));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
		bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		listen(fd, 1024) != 0)
	{
		int			save = errno;

		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		errno = save;
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("gateway listener could not listen on \"%s\": %m", gw_listen_address)));
	}
	freeaddrinfo(ai);
	pfree(addr);
	return fd;
}

/* Whether a database of that name exists: a plain scan of pg_database. */
static bool
gw_front_database_exists(const char *name)
{
	bool		found = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!found && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
		found = (strcmp(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname), name) == 0);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return found;
}

/* Answer by ourselves, and close. */
static void
gw_front_answer(int fd, int status, const char *reason, const char *text)
{
	char		buf[512];
	char		drain[4096];
	int			n;

	n = snprintf(buf, sizeof(buf),
				 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
				 status, reason, strlen(text) + 1, text);
	(void) send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	gw_stat_answer(InvalidOid, status);
	(void) shutdown(fd, SHUT_WR);
	/* what the client sent is read, so that closing does not reset the answer */
	while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* Decode %XX in place; false for a bad escape or a NUL. */
static bool
gw_front_unescape(char *s)
{
	char	   *out = s;

	for (char *p = s; *p; p++)
	{
		if (*p == '%')
		{
			unsigned int v;

			if (!isxdigit((unsigned char) p[1]) || !isxdigit((unsigned char) p[2]) ||
				sscanf(p + 1, "%2x", &v) != 1 || v == 0)
				return false;
			*out++ = (char) v;
			p += 2;
		}
		else
			*out++ = *p;
	}
	*out = '\0';
	return true;
}

/*
 * The database a request's first line is for, in name (NAMEDATALEN); false
 * when the path names none (it is not /<database>/<account>/<kind>,
 * /<account>/<kind>, /<database>/status or /metrics).  *metrics: it is
 * /metrics, which any database's listener serves (name is then "").
 */
static bool
gw_front_route(const char *line, char *name, bool *metrics)
{
	const char *path = strchr(line, ' ');
	const char *end;
	const char *s1;
	const char *s2;
	char		seg[NAMEDATALEN * 3 + 1];

	if (path == NULL || path[1] != '/')
		return false;
	path++;
	end = path + strcspn(path, " ?#\r\n");
	*metrics = (end - path == 8 && memcmp(path, "/metrics", 8) == 0);
	if (*metrics)
	{
		name[0] = '\0';
		return true;
	}
	s1 = memchr(path + 1, '/', end - path - 1);
	if (s1 == NULL)
		return false;
	s2 = memchr(s1 + 1, '/', end - s1 - 1);
	if (s2 == NULL && !(end - s1 == 7 && memcmp(s1, "/status", 7) == 0))
	{
		/* /<account>/<kind>: gateway.database's */
		strlcpy(name, gw_worker_database, NAMEDATALEN);
		return true;
	}
	/* /<database>/status, or /<database>/<account>/<kind> */
	if ((s2 != NULL && memchr(s2 + 1, '/', end - s2 - 1) != NULL) ||
		s1 - path - 1 >= (long) sizeof(seg) || s1 == path + 1)
		return false;
	memcpy(seg, path + 1, s1 - path - 1);
	seg[s1 - path - 1] = '\0';
	if (!gw_front_unescape(seg) || strlen(seg) >= NAMEDATALEN)
		return false;
	strlcpy(name, seg, NAMEDATALEN);
	return true;
}

/* The listener that serves /metrics: one of gateway.database's, else any. */
static Oid
gw_front_metrics_listener(int *idx)
{
	Oid			dboid = gw_db_listener_for(gw_worker_database, gw_front_turns, idx);
	GwDbInfo   *dbs;

	if (OidIsValid(dboid))
		return dboid;
	dbs = palloc(sizeof(GwDbInfo) * GW_MAX_DATABASES);
	gw_db_snapshot(dbs);
	for (int i = 0; i < GW_MAX_DATABASES && !OidIsValid(dboid); i++)
		for (int k = 0; k < GW_MAX_LISTENERS && !OidIsValid(dboid); k++)
			if (dbs[i].listener_live[k] && OidIsValid(dbs[i].dboid))
			{
				dboid = dbs[i].dboid;
				*idx = k;
			}
	pfree(dbs);
	return dboid;
}

/* Hand a connection to listener idx of dboid; false when it is not there. */
static bool
gw_front_handoff_to(Oid dboid, int idx, GwFrontConn *c)
{
	struct sockaddr_un sa;
	socklen_t	salen;
	struct msghdr msg;
	struct iovec iov;
	union
	{
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	}			ctl;
	struct cmsghdr *cm;

	gw_listen_socket_addr(dboid, idx, &sa, &salen);
	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = &c->addr;
	iov.iov_len = c->addrlen;
	msg.msg_name = &sa;
	msg.msg_namelen = salen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
	return sendmsg(gw_front_handoff, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0;
}

static void
gw_front_forget(GwFrontConn *c, int ep)
{
	if (c->waiting)
		gw_front_nwaiting--;
	(void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	dlist_delete(&c->node);
	gw_front_nconns--;
	pfree(c);
}

/* What came of handing a connection over. */
typedef enum GwHand
{
	GW_HAND_DONE,				/* a listener has it */
	GW_HAND_BUSY,				/* every listener's queue is full: soon */
	GW_HAND_NONE				/* no listener is there */
} GwHand;

/*
 * Hand c to a listener of the database named name (metrics: to one that
 * serves /metrics), trying the database's listeners in turn: one that went
 * away meanwhile, or whose queue is full, leaves it to the next.
 */
static GwHand
gw_front_hand(GwFrontConn *c, const char *name, bool metrics)
{
	bool		busy = false;

	for (int tries = 0; tries < GW_MAX_LISTENERS; tries++)
	{
		int			idx = 0;
		Oid			dboid;

		dboid = metrics ? gw_front_metrics_listener(&idx)
			: gw_db_listener_for(name, gw_front_turns, &idx);
		if (!OidIsValid(dboid))
			break;
		if (gw_front_handoff_to(dboid, idx, c))
			return GW_HAND_DONE;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			busy = true;
	}
	return busy ? GW_HAND_BUSY : GW_HAND_NONE;
}

/* A pending connection is readable: route it once its first line is in. */
static void
gw_front_readable(GwFrontConn *c, int ep)
{
	char		line[GW_FRONT_LINE_MAX + 1];
	char		name[NAMEDATALEN];
	ssize_t		n = recv(c->fd, line, GW_FRONT_LINE_MAX, MSG_PEEK | MSG_DONTWAIT);
	int			fd = c->fd;
	bool		metrics;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
	{
		gw_front_forget(c, ep);
		close(fd);
		return;
	}
	line[n] = '\0';
	if (memchr(line, '\n', n) == NULL)
	{
		if (n == GW_FRONT_LINE_MAX)
		{
			gw_front_forget(c, ep);
			gw_front_answer(fd, 414, "URI Too Long", "uri too long");
		}
		return;					/* more to come */
	}
	if (!gw_front_route(line, name, &metrics) || (metrics && !gw_monitor_enabled()))
	{
		gw_front_forget(c, ep);
		gw_front_answer(fd, 404, "Not Found", "not found");
		return;
	}
	switch (gw_front_hand(c, name, metrics))
	{
		case GW_HAND_DONE:
			gw_front_forget(c, ep);
			close(fd);			/* the listener has its own copy */
			return;
		case GW_HAND_BUSY:
			/* the listeners are busy and their queues full: hand it over soon */
			(void) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			c->waiting = true;
			c->metrics = metrics;
			strlcpy(c->name, name, NAMEDATALEN);
			gw_front_nwaiting++;
			return;
		case GW_HAND_NONE:
			break;
	}
	gw_front_forget(c, ep);
	if (metrics || gw_front_database_exists(name))
		gw_front_answer(fd, 503, "Service Unavailable", "unavailable");
	else
		gw_front_answer(fd, 404, "Not Found", "not found");
}

/* Hand over again the connections whose listeners' queues were full. */
static void
gw_front_retry(int ep)
{
	dlist_mutable_iter it;

	if (gw_front_nwaiting == 0)
		return;
	dlist_foreach_modify(it, &gw_front_conns)
	{
		GwFrontConn *c = dlist_container(GwFrontConn, node, it.cur);
		int			fd = c->fd;

		if (!c->waiting)
			continue;
		switch (gw_front_hand(c, c->name, c->metrics))
		{
			case GW_HAND_DONE:
				gw_front_forget(c, ep);
				close(fd);
				break;
			case GW_HAND_BUSY:
				break;
			case GW_HAND_NONE:
				/* the listeners went away meanwhile */
				gw_front_forget(c, ep);
				gw_front_answer(fd, 503, "Service Unavailable", "unavailable");
				break;
		}
	}
}

/* Close the connections whose first line did not come in time; the ms
 * until the next such deadline, or -1. */
static long
gw_front_deadlines(int ep)
{
	TimestampTz now = GetCurrentTimestamp();
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &gw_front_conns)
	{
		GwFrontConn *c = dlist_container(GwFrontConn, node, it.cur);
		TimestampTz deadline = TimestampTzPlusMilliseconds(c->since,
														   (int64) gw_listen_timeout_s * 1000);
		int			fd = c->fd;

		if (deadline > now)
			return (long) ((deadline - now) / 1000) + 1;	/* the rest are younger */
		gw_front_forget(c, ep);
		close(fd);
	}
	return -1;
}

/* The host part of an address, for comparing clients. */
static bool
gw_front_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *) a)->sin_addr,
					  &((const struct sockaddr_in *) b)->sin_addr, sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
					  &((const struct sockaddr_in6 *) b)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

/* Whether the client has gateway.listen_max_per_client connections here,
 * waiting for their first line, already (a database's listeners count the
 * ones they were handed, together: clients.c). */
static bool
gw_front_client_full(const struct sockaddr_storage *addr)
{
	int			n = 0;
	dlist_iter	it;

	if (gw_listen_max_per_client <= 0)
		return false;
	dlist_foreach(it, &gw_front_conns)
	{
		GwFrontConn *c = dlist_container(GwFrontConn, node, it.cur);

		if (gw_front_same_host(&c->addr, addr) && ++n >= gw_listen_max_per_client)
			return true;
	}
	return false;
}

/* Accept what is waiting; a connection over the limit is closed at once. */
static void
gw_front_accept(int lfd, int ep)
{
	for (;;)
	{
		struct sockaddr_storage addr;
		socklen_t	addrlen = sizeof(addr);
		int			fd = accept4(lfd, (struct sockaddr *) &addr, &addrlen,
								 SOCK_NONBLOCK | SOCK_CLOEXEC);
		GwFrontConn *c;
		struct epoll_event ev;

		if (fd < 0)
			return;
		if (gw_front_nconns >= gw_listen_max_connections ||
			gw_front_client_full(&addr))
		{
			close(fd);
			continue;
		}
		c = palloc0(sizeof(GwFrontConn));
		c->fd = fd;
		memcpy(&c->addr, &addr, addrlen);
		c->addrlen = addrlen;
		c->since = GetCurrentTimestamp();
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		{
			pfree(c);
			close(fd);
			continue;
		}
		dlist_push_tail(&gw_front_conns, &c->node);
		gw_front_nconns++;
	}
}

void
gw_front_main(Datum arg)
{
	int			lfd;
	int			ep;
	struct epoll_event ev;
	WaitEventSet *wes;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	lfd = gw_front_bind();
	gw_front_handoff = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (gw_front_handoff < 0 || ep < 0)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("gateway listener front could not create a socket: %m")));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;			/* the listening socket */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("gateway listener front could not watch its socket: %m")));
	wes = gw_wait_event_set(3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, ep, NULL, NULL);
	ereport(LOG, (errmsg("gateway listener front on %s", gw_listen_address)));

	for (;;)
	{
		WaitEvent	events[3];
		struct epoll_event ready[64];
		long		timeout = gw_front_deadlines(ep);
		int			n;

		/* a connection waiting for a busy listener is tried again soon */
		if (gw_front_nwaiting > 0 && (timeout < 0 || timeout > 2))
			timeout = 2;

		(void) WaitEventSetWait(wes, timeout < 0 ? 1000 : timeout, events,
								lengthof(events), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		n = epoll_wait(ep, ready, lengthof(ready), 0);
		for (int i = 0; i < n; i++)
		{
			if (ready[i].data.ptr == NULL)
				gw_front_accept(lfd, ep);
			else
				gw_front_readable(ready[i].data.ptr, ep);
		}
		gw_front_retry(ep);
	}
}
