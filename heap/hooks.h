/*
 * hooks.h -- the one place where rtheap talks to memory checkers.
 *
 * Three builds are possible:
 *  - plain: every hook is empty and costs nothing;
 *  - AddressSanitizer (detected at compile time): free memory inside the
 *    heap is poisoned, so a use after free or an overflow into free space
 *    is reported as "use-after-poison";
 *  - Memcheck (-DRTHEAP_VALGRIND=1, the rtheap_vg library): blocks are
 *    described as malloc-like blocks and free memory as no-access, so
 *    valgrind reports invalid reads/writes and leaks inside the heap.
 *
 * The discipline every caller follows:
 *  - hook_pages_added()   once per extent: the whole page array is free;
 *  - hook_block_alloc()   after a block has been carved, before it is used;
 *  - hook_block_free()    once the block is back in free memory;
 *  - hook_open()          before the heap itself reads or writes free memory
 *                         (a list node, a debug fill pattern);
 *  - hook_close()         right after: free memory is poisoned again, so a
 *                         program writing into a freed block is caught even
 *                         where the heap keeps a list node.
 */
#ifndef RTHEAP_HOOKS_H
#define RTHEAP_HOOKS_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define RTHEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RTHEAP_ASAN 1
#endif
#endif

#if defined(RTHEAP_ASAN) || (defined(RTHEAP_VALGRIND) && RTHEAP_VALGRIND)
#define RTHEAP_HOOKS_ACTIVE 1
#else
#define RTHEAP_HOOKS_ACTIVE 0
#endif

#if defined(RTHEAP_ASAN)
#include <sanitizer/asan_interface.h>
#define hook_noaccess_(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define hook_access_(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define hook_noaccess_(p, n) ((void)(p), (void)(n))
#define hook_access_(p, n) ((void)(p), (void)(n))
#endif

#if defined(RTHEAP_VALGRIND) && RTHEAP_VALGRIND
#include <valgrind/memcheck.h>
#define vg_malloclike_(p, n) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, 0)
#define vg_freelike_(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#define vg_noaccess_(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define vg_defined_(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define vg_malloclike_(p, n) ((void)(p), (void)(n))
#define vg_freelike_(p) ((void)(p))
#define vg_noaccess_(p, n) ((void)(p), (void)(n))
#define vg_defined_(p, n) ((void)(p), (void)(n))
#endif

static inline void hook_pages_added(void *p, size_t n)
{
	hook_noaccess_(p, n);
	vg_noaccess_(p, n);
}

static inline void hook_block_alloc(void *p, size_t n)
{
	hook_access_(p, n);
	vg_malloclike_(p, n);
}

static inline void hook_block_free(void *p, size_t n)
{
	vg_freelike_(p);
	vg_noaccess_(p, n);
	hook_noaccess_(p, n);
}

/* The heap reads/writes free memory itself (debug fill): open it briefly. */
static inline void hook_open(void *p, size_t n)
{
	hook_access_(p, n);
	vg_defined_(p, n);
}

static inline void hook_close(void *p, size_t n)
{
	vg_noaccess_(p, n);
	hook_noaccess_(p, n);
}

#endif /* RTHEAP_HOOKS_H */
