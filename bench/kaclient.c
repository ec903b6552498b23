/*
 * kaclient: a bare keep-alive HTTP client, the baseline for bench/sync_send.sh.
 * Sends N POSTs one after another over one reused connection, prints req/s.
 * usage: kaclient URL BODY N
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t
sink(char *p, size_t s, size_t n, void *u)
{
	(void) p;
	(void) u;
	return s * n;
}

int
main(int argc, char **argv)
{
	CURL	   *h;
	struct curl_slist *hd = NULL;
	struct timespec a,
				b;
	long		n,
				i,
				errors = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: kaclient URL BODY N\n");
		return 2;
	}
	n = atol(argv[3]);
	curl_global_init(CURL_GLOBAL_ALL);
	h = curl_easy_init();
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, argv[2]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		if (curl_easy_perform(h) != CURLE_OK)
			errors++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.0f\n", n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return errors ? 1 : 0;
}
