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

#ifdef __cplusplus
}
#endif

#endif
