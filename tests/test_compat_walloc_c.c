/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the walloc calls, written as code of the embedded web
 * server writes them: rtheap/compat/walloc.h must compile as strict C11
 * with -Wall -Wextra -Werror, with int sizes, the USE_MALLOC flag and a
 * notifier of the original's type.  Called from test_compat_walloc.cc;
 * returns 0, or the line of the first check that failed.
 */
#include <stddef.h>
#include <string.h>

#include "rtheap/compat/walloc.h"

int walloc_c_program(void);

static int last_failed_size = -1;

static void memory_low(int size)
{
	last_failed_size = size;
}

#define CHECK(x)                      \
	do {                          \
		if (!(x))             \
			return __LINE__; \
	} while (0)

/* Append @p s to the growing buffer *@p buf of *@p len bytes, as a
 * request parser does with wrealloc. */
static int append(char **buf, int *len, const char *s)
{
	int n = (int)strlen(s);
	char *nb = wrealloc(*buf, *len + n + 1);
	if (nb == NULL)
		return -1;
	memcpy(nb + *len, s, (size_t)n + 1);
	*buf = nb;
	*len += n;
	return 0;
}

int walloc_c_program(void)
{
	static _Alignas(16) char pool[256 * 1024];
	char *line = NULL, *big, *small, *keep;
	int len = 0, i;

	CHECK(wopenAlloc(pool, (int)sizeof(pool), USE_MALLOC) == 0);
	websSetMemNotifier(memory_low);
	for (i = 0; i < 100; i++)
		CHECK(append(&line, &len, "GET /index.html HTTP/1.0\r\n") == 0);
	CHECK(len == 2600);
	CHECK(strncmp(line + 2574, "GET /index.html HTTP/1.0\r\n", 26) == 0);
	/* within its class a block never moves */
	small = walloc(20);
	CHECK(small != NULL);
	keep = small;
	small = wrealloc(small, 32);
	CHECK(small == keep);
	/* above the classes: malloc, allowed by USE_MALLOC */
	big = walloc(200000);
	CHECK(big != NULL);
	memset(big, 'x', 200000);
	CHECK(walloc(-1) == NULL);
	CHECK(wrealloc(small, -8) == NULL);
	CHECK(last_failed_size == -1);
	wfree(big);
	wfree(small);
	wfree(line);
	wfree(NULL);
	wcloseAlloc();

	/* without USE_MALLOC a request above 64 KiB fails and notifies */
	CHECK(wopenAlloc(pool, (int)sizeof(pool), 0) == 0);
	CHECK(walloc(70000) == NULL);
	CHECK(last_failed_size == 70000);
	websSetMemNotifier(NULL);
	wcloseAlloc();
	return 0;
}
