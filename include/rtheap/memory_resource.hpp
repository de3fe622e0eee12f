// SPDX-License-Identifier: MIT
/*
 * rtheap/memory_resource.hpp -- rtheap as a C++17 polymorphic memory
 * resource, for std::pmr containers and resources.
 *
 *     rtheap::memory_resource mr(&heap);
 *     std::pmr::vector<int> v(&mr);
 *     std::pmr::monotonic_buffer_resource arena(64 * 1024, &mr);
 *
 * The resource holds a pointer to an initialised rtheap_t and owns
 * nothing: the heap must outlive it and every block allocated through it.
 * Copies compare equal (do_is_equal: same heap), so memory allocated
 * through one may be released through another.
 *
 * Alignment.  Every block comes from rtheap_alloc_aligned(), so the
 * pointer handed out is the block itself, with no hidden header: an
 * alignment A up to the page size P costs at most the rounding of
 * max(bytes, A) to a power of two (or a page), a larger one an aligned run
 * of whole pages, found in O(1) (see rtheap_alloc_aligned() for its good
 * fit).  Alignments that are not powers of two are refused (bad_alloc, or
 * nullptr from try_allocate), as rtheap_alloc_aligned() refuses them, and
 * not counted as failed allocations.
 *
 * Failure.  do_allocate throws std::bad_alloc when rtheap_alloc returns
 * NULL (the heap's low-memory callback has run by then, as for any failed
 * rtheap_alloc).  std::pmr::memory_resource::allocate cannot report a
 * failure any other way: a null-returning allocate is not possible with
 * pmr containers.  Throwing is not real-time safe (the exception object
 * and unwinding may allocate and take unbounded time), so a real-time
 * thread should either not let a container allocate (reserve outside the
 * real-time path) or call try_allocate() / rtheap_alloc() itself, which
 * return nullptr.  Built without exceptions (-fno-exceptions), a failed
 * do_allocate calls std::abort().
 *
 * Bounds and contexts: each call costs one rtheap_alloc_aligned or rtheap_free
 * (O(1), plus O(log E) for a release) and is RT-safe as those are, except
 * the throw of a failed do_allocate.  do_is_equal uses dynamic_cast (RTTI).
 */
#ifndef RTHEAP_MEMORY_RESOURCE_HPP
#define RTHEAP_MEMORY_RESOURCE_HPP

#include <cstddef>
#include <cstdlib>
#include <memory_resource>
#include <new>

#include "rtheap/rtheap.h"

namespace rtheap {

class memory_resource : public std::pmr::memory_resource {
public:
	/** A resource over @p heap (initialised, outliving the resource). */
	explicit memory_resource(rtheap_t *heap) noexcept : heap_(heap) {}

	/** The heap this resource allocates from. */
	rtheap_t *heap() const noexcept { return heap_; }

	/**
	 * As allocate(), but returns nullptr on failure instead of throwing:
	 * heap exhausted, @p alignment not a power of two, size overflow, or
	 * an unusable heap.  A zero-byte request gets a 1-byte block (so it
	 * has an address of its own).  Release with deallocate() and the same
	 * @p alignment (or any: it is not needed).  Bound: one
	 * rtheap_alloc_aligned.  Context: RT-safe.
	 */
	void *try_allocate(std::size_t bytes,
	                   std::size_t alignment = alignof(std::max_align_t)) noexcept
	{
		return rtheap_alloc_aligned(heap_, bytes ? bytes : 1, alignment);
	}

protected:
	/** Throws std::bad_alloc where try_allocate() returns nullptr. */
	void *do_allocate(std::size_t bytes, std::size_t alignment) override
	{
		void *p = try_allocate(bytes, alignment);
		if (!p) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
			throw std::bad_alloc();
#else
			std::abort();
#endif
		}
		return p;
	}

	/**
	 * rtheap_free of the block; @p bytes and @p alignment are not needed.
	 * A pointer that is not a live block is reported to the heap's error
	 * callback (rtheap_set_error_handler) and changes nothing.
	 */
	void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override
	{
		(void)bytes;
		(void)alignment;
		(void)rtheap_free(heap_, p);
	}

	/** Equal to another rtheap::memory_resource over the same heap. */
	bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override
	{
		if (this == &other)
			return true;
		const auto *o = dynamic_cast<const memory_resource *>(&other);
		return o != nullptr && o->heap_ == heap_;
	}

private:
	rtheap_t *heap_;
};

} // namespace rtheap

#endif /* RTHEAP_MEMORY_RESOURCE_HPP */
