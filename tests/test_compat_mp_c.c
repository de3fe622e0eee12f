/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the region pool's original calls, written as a server
 * written for the original would: rtheap/compat/mp.h must compile as
 * strict C11 with -Wall -Wextra -Werror, its calls taking the original's
 * argument forms (struct mp_pool_s *, size_t sizes, a char * title).
 * Called from test_compat_mp.cc.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rtheap/compat/mp.h"

int mp_c_program(void);

struct conn {
	struct mp_pool_s *pool;
	char *line;
	struct mp_node_s *unused_node;   /* the original's tags are declared */
	struct mp_large_s *unused_large;
};

static int handle_request(struct conn *c, int n)
{
	char *hdr[8];
	int i;
	for (i = 0; i < 8; i++) {
		hdr[i] = mp_malloc(c->pool, (size_t)(16 + n * i));
		if (!hdr[i] || ((uintptr_t)hdr[i] & (MP_ALIGNMENT - 1)) != 0)
			return 1;
		memset(hdr[i], 'a' + i, (size_t)(16 + n * i));
	}
	for (i = 0; i < 8; i++)
		if (hdr[i][0] != 'a' + i)
			return 2;
	mp_free(c->pool, hdr[3]);
	return 0;
}

int mp_c_program(void)
{
	struct conn c;
	char title[] = "c program";
	unsigned char *z;
	char *body;
	size_t i;
	int r;

	memset(&c, 0, sizeof c);
	c.pool = mp_create_pool(MP_PAGE_SIZE);
	if (!c.pool)
		return 10;
	for (r = 0; r < 50; r++) {
		if (handle_request(&c, r) != 0)
			return 11;
		mp_reset_pool(c.pool);
	}
	z = mp_calloc(c.pool, 300);
	if (!z)
		return 12;
	for (i = 0; i < 300; i++)
		if (z[i] != 0)
			return 13;
	body = mp_malloc(c.pool, 3 * MP_PAGE_SIZE); /* a large one */
	if (!body)
		return 14;
	memset(body, 'b', 3 * MP_PAGE_SIZE);
	mp_free(c.pool, body);
	c.line = mp_malloc(c.pool, 80);
	if (!c.line)
		return 15;
	monitor_mp_poll(c.pool, title);
	mp_free(c.pool, c.line);
	mp_free(c.pool, z);
	mp_destroy_pool(c.pool);
	return 0;
}
