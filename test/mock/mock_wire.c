/*
 * gw-mock: answers that misbehave on the wire, and a port that hangs.
 *
 * A body that trickles goes out a chunk at a time: the content reader hands
 * MHD one chunk, and before the next it suspends the connection and lets
 * mock.c's timer resume it, so a slow answer holds no thread. A body that is
 * cut promises its whole length (Content-Length) and stops part way: after a
 * short pause the connection is closed, or reset when asked. The hanging port is a listener whose accept queue is full and never
 * drained: the kernel drops every further SYN, and a client's connect waits
 * until its own timeout.
 */
#include "mock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct wire
{
	struct MHD_Connection *conn;
	char	   *body;
	size_t		len;
	size_t		stop;			/* bytes sent before the cut; len: no cut */
	size_t		chunk;			/* 0: as much as MHD takes */
	long		interval_ms;
	bool		reset;
	bool		waited;			/* the pause before this write is over */
} wire;

/*
 * Reset the connection, as a crashed peer or a middlebox does: a connect()
 * to AF_UNSPEC makes Linux abort it with an RST at once (MHD's own shutdown
 * and close that follow find it closed and do nothing more).
 */
static void
reset_now(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr sa;

	if (ci == NULL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	(void) connect(ci->connect_fd, &sa, sizeof(sa));
}

/* Pause before the next write; true when the connection was suspended (the
 * reader returns 0 and is called again once resumed). */
static bool
wire_pause(wire *w)
{
	if (w->waited || w->interval_ms <= 0)
	{
		w->waited = false;
		return false;
	}
	w->waited = true;
	return delay_connection(w->conn, w->interval_ms);
}

static ssize_t
wire_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	wire	   *w = cls;
	size_t		n;

	if (pos >= w->stop)
	{
		/* the part was sent (MHD asks for more only once it is written) */
		if (wire_pause(w))
			return 0;
		if (w->reset)
			reset_now(w->conn);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (w->chunk > 0 && pos > 0 && wire_pause(w))
		return 0;
	n = w->stop - (size_t) pos;
	if (w->chunk > 0 && n > w->chunk)
		n = w->chunk;
	if (n > max)
		n = max;
	memcpy(buf, w->body + pos, n);
	return (ssize_t) n;
}

static void
wire_free(void *cls)
{
	wire	   *w = cls;

	free(w->body);
	free(w);
}

struct MHD_Response *
wire_response(struct MHD_Connection *c, reply *o)
{
	wire	   *w = xmalloc(sizeof(wire));
	struct MHD_Response *resp;

	memset(w, 0, sizeof(wire));
	w->conn = c;
	w->body = sb_take(&o->body, &w->len);
	w->stop = w->len;
	if (o->cut)
		w->stop = (o->cut_at < 0 || (size_t) o->cut_at > w->len) ? w->len / 2 : (size_t) o->cut_at;
	w->chunk = o->chunk > 0 ? (size_t) o->chunk : 0;
	w->interval_ms = o->interval_ms;
	w->reset = o->reset;
	resp = MHD_create_response_from_callback(w->len, w->chunk > 0 ? w->chunk : 16 * 1024,
											 wire_read, w, wire_free);
	if (resp == NULL)
		wire_free(w);
	return resp;
}

void
reply_large(reply *o, long size)
{
	static const char head[] = "{\"code\":\"Success\",\"statusDescription\":\"Request is Successfully Processed\",\"data\":{\"padding\":\"";
	static const char tail[] = "\"}}";
	long		pad = size - (long) (sizeof(head) - 1) - (long) (sizeof(tail) - 1);

	o->status = 200;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_puts(&o->body, head);
	for (long i = 0; i < pad; i++)
		sb_putc(&o->body, 'x');
	sb_puts(&o->body, tail);
}

static pthread_mutex_t g_hang_lock = PTHREAD_MUTEX_INITIALIZER;
static int	g_hang_port = -1;

int
hang_port(const char *addr)
{
	struct sockaddr_in sa;
	socklen_t	salen = sizeof(sa);
	int			fd = -1;
	int			port;

	pthread_mutex_lock(&g_hang_lock);
	if (g_hang_port > 0)
		goto done;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		goto done;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(fd, 0) != 0 ||
		getsockname(fd, (struct sockaddr *) &sa, &salen) != 0)
		goto fail;
	/* fill the queue: these connections are never accepted (nor closed) */
	for (int i = 0; i < 2; i++)
	{
		int			c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0)
			goto fail;
		fcntl(c, F_SETFL, O_NONBLOCK);
		(void) connect(c, (struct sockaddr *) &sa, sizeof(sa));
	}
	usleep(50 * 1000);			/* let the handshakes land in the queue */
	g_hang_port = ntohs(sa.sin_port);
	goto done;
fail:
	if (fd >= 0)
		close(fd);
done:
	port = g_hang_port;
	pthread_mutex_unlock(&g_hang_lock);
	return port;
}
