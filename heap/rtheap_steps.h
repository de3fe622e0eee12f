/* SPDX-License-Identifier: MIT */
/*
 * rtheap_steps.h -- test-only interface of the rtheap_steps library variant
 * (built with -DRTHEAP_STEP_COUNT).  Every map read or write, list hop,
 * bitmap-word scan and binary-search iteration done by the calling thread
 * adds one to a thread-local counter, so tests can assert step bounds.
 */
#ifndef RTHEAP_STEPS_H
#define RTHEAP_STEPS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Reset the calling thread's step counter to zero. */
void rtheap_steps_reset(void);
/** Steps done by the calling thread since the last reset. */
unsigned long rtheap_steps_get(void);

/** Test points where a hook set by rtheap_steps_set_hook() runs, under the
 *  heap lock, in the calling thread (e.g. to kill the process there). */
enum rtheap_steps_point {
	RTHEAP_STEPS_LOCKED = 1,  /**< just after the heap lock was taken */
	RTHEAP_STEPS_RUN_CUT = 2, /**< in a split of a free page run, between
	                               the remainder's two map writes: the
	                               page map is half changed */
};
/** Run @p fn(@p point) in the calling thread each time it passes @p point
 *  (enum rtheap_steps_point); @p fn NULL removes the hook. */
void rtheap_steps_set_hook(int point, void (*fn)(int point));

#ifdef __cplusplus
}
#endif

#endif
