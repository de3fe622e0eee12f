/* SPDX-License-Identifier: MIT */
/*
 * abi_mismatch.c -- a program compiled against the headers of another build
 * of rtheap (tests/CMakeLists.txt generates a config.h with another
 * RTHEAP_MAX_EXTENTS, descriptor size or ABI version and puts it first on
 * the include path) must be refused by rtheap_init() and xnheap_init():
 * -EINVAL, a message on stderr naming both sizes, and not one byte written
 * into or past the caller's descriptor.
 *
 * Built with ABI_EXPECT_OK=1 against the real headers, the same program is
 * the control: both inits succeed.
 */
#include <rtheap/rtheap.h>
#include <rtheap/xnheap.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef ABI_EXPECT_OK
#define ABI_EXPECT_OK 0
#endif

#define GUARD 65536
#define FILL 0x5a

static _Alignas(256) unsigned char arena[RTHEAP_BUFFER_SIZE(64 * 1024, 256)];
static _Alignas(512) unsigned char xarena[RTHEAP_BUFFER_SIZE(64 * 1024, 512)];

/* The descriptor as this program sees it, followed by guard bytes that the
 * library would overwrite if it believed in a larger descriptor. */
static struct {
	rtheap_t heap;
	unsigned char guard[GUARD];
} rt_slot;
static struct {
	xnheap_t heap;
	unsigned char guard[GUARD];
} xn_slot;

static int untouched(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != FILL)
			return 0;
	return 1;
}

/* Run init with stderr captured in a temporary file; return its result and
 * the captured text. */
static int captured(int (*fn)(void), char *msg, size_t cap)
{
	FILE *tmp = tmpfile();
	if (!tmp)
		return -1000;
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	int r = fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(msg, 1, cap - 1, tmp);
	msg[n] = '\0';
	fclose(tmp);
	return r;
}

static int init_rt(void)
{
	return rtheap_init(&rt_slot.heap, arena, sizeof(arena), NULL);
}

static int init_xn(void)
{
	return xnheap_init(&xn_slot.heap, xarena, sizeof(xarena), 512);
}

static int check(const char *name, int (*fn)(void), void *slot, size_t n)
{
	char msg[1024];
	memset(slot, FILL, n);
	int r = captured(fn, msg, sizeof(msg));
	if (ABI_EXPECT_OK) {
		if (r != 0) {
			printf("FAIL %s: control init returned %d: %s\n", name, r, msg);
			return 1;
		}
		printf("ok   %s: matching headers accepted\n", name);
		return 0;
	}
	if (r != -EINVAL) {
		printf("FAIL %s: returned %d, expected -EINVAL\n", name, r);
		return 1;
	}
	if (!untouched(slot, n)) {
		printf("FAIL %s: the descriptor or the bytes past it were written\n", name);
		return 1;
	}
	char want[64];
	snprintf(want, sizeof(want), "%zu-byte descriptor", n - GUARD);
	if (!strstr(msg, "refused") || !strstr(msg, name) || !strstr(msg, want)) {
		printf("FAIL %s: unclear message: \"%s\"\n", name, msg);
		return 1;
	}
	printf("ok   %s: refused, nothing written; stderr said: %s", name, msg);
	return 0;
}

static xnheap_t *sys_result;

static int get_system(void)
{
	sys_result = xnheap_system();
	return sys_result ? 0 : -EINVAL;
}

/* The system heap is the library's own object: nothing of the program's
 * is written, but the program would read its fields at its own offsets. */
static int check_system(void)
{
	char msg[1024];
	int r = captured(get_system, msg, sizeof(msg));
	if (ABI_EXPECT_OK) {
		if (r != 0) {
			printf("FAIL xnheap_system: NULL with matching headers: %s\n", msg);
			return 1;
		}
		printf("ok   xnheap_system: matching headers accepted\n");
		return 0;
	}
	if (r == 0 || !strstr(msg, "xnheap_system") || !strstr(msg, "refused")) {
		printf("FAIL xnheap_system: %p, message \"%s\"\n", (void *)sys_result, msg);
		return 1;
	}
	printf("ok   xnheap_system: NULL; stderr said: %s", msg);
	return 0;
}

int main(void)
{
	int bad = 0;
	printf("program's sizeof(rtheap_t) = %zu, RTHEAP_ABI_VERSION = %u\n",
	       sizeof(rtheap_t), (unsigned)RTHEAP_ABI_VERSION);
	bad += check("rtheap_init", init_rt, &rt_slot, sizeof(rt_slot));
	bad += check("xnheap_init", init_xn, &xn_slot, sizeof(xn_slot));
	bad += check_system();
	if (ABI_EXPECT_OK) {
		rtheap_destroy(&rt_slot.heap, NULL, NULL);
		xnheap_destroy(&xn_slot.heap, NULL, NULL);
	}
	printf(bad ? "ABI TEST FAILED\n" : "ABI TEST PASSED\n");
	return bad != 0;
}
