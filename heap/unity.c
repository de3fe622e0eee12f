/* SPDX-License-Identifier: MIT */
/*
 * unity.c -- the library is compiled as one translation unit, so that the
 * hot paths (alloc -> runs/bucket, free -> extent lookup -> runs/bucket)
 * are inlined into the public entry points: call overhead would otherwise
 * be a large share of a ~100-instruction operation.  The sources stay one
 * file per concern.
 */
#define RTHEAP_UNITY_BUILD 1 /* the sources below refuse to compile alone */

#include "extent.c"
#include "runs.c"
#include "page.c"
#include "bucket.c"
#include "notify.c"
#include "debug.c"
#include "heap.c"
#include "resize.c"
#include "check.c"
#include "owner.c"
#include "xnheap.c"
#include "steps.c"
#include "fork.c"
