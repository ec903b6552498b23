/*
 * kamulti: the bare libcurl multi client, the concurrent ceiling of anything
 * that sends with libcurl (the worker does).  N keep-alive POSTs of BODY to
 * URL over C connections at once, driven by curl_multi_poll; prints req/s
 * and the process's CPU in microseconds a request (user + system); requests
 * that failed or were not answered 200 are counted on stderr and make the
 * exit status 1.  Nothing is
 * parsed and nothing written: what is left is libcurl's own cost.
 * usage: kamulti URL BODY N C
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static size_t
sink(char *p, size_t s, size_t n, void *u)
{
	(void) p;
	(void) u;
	return s * n;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	CURLM	   *m;
	CURL	  **h;
	struct curl_slist *hd = NULL;
	struct timespec a,
				b;
	long		n,
				c,
				started = 0,
				done = 0,
				errors = 0,
				i;
	int			running = 0;
	double		cpu0,
				secs;

	if (argc != 5)
	{
		fprintf(stderr, "usage: kamulti URL BODY N C\n");
		return 2;
	}
	n = atol(argv[3]);
	c = atol(argv[4]);
	if (n < 1 || c < 1)
		return 2;
	curl_global_init(CURL_GLOBAL_ALL);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, c);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	h = calloc(c, sizeof(CURL *));
	for (i = 0; i < c; i++)
	{
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, argv[1]);
		curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, argv[2]);
		curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h[i], CURLOPT_TCP_NODELAY, 1L);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	cpu0 = cpu_seconds();
	for (i = 0; i < c && started < n; i++, started++)
		curl_multi_add_handle(m, h[i]);
	while (done < n)
	{
		CURLMsg    *msg;
		int			left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
		{
			CURL	   *e;

			if (msg->msg != CURLMSG_DONE)
				continue;
			e = msg->easy_handle;
			if (msg->data.result != CURLE_OK)
				errors++;
			else
			{
				long		code = 0;

				curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
				if (code != 200)
					errors++;
			}
			done++;
			curl_multi_remove_handle(m, e);
			if (started < n)
			{
				curl_multi_add_handle(m, e);
				started++;
			}
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f %.1f\n", n / secs, (cpu_seconds() - cpu0) * 1e6 / n);
	if (errors)
		fprintf(stderr, "kamulti: %ld of %ld requests failed\n", errors, n);
	for (i = 0; i < c; i++)
		curl_easy_cleanup(h[i]);
	free(h);
	curl_slist_free_all(hd);
	curl_multi_cleanup(m);
	return errors ? 1 : 0;
}
