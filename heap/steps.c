/* SPDX-License-Identifier: MIT */
/* steps.c -- the step counter of test builds (see rtheap_steps.h). */
#ifndef RTHEAP_UNITY_BUILD
#error "steps.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"
#include "rtheap_steps.h"

#ifdef RTHEAP_STEP_COUNT
_Static_assert(RT_TP_LOCKED == RTHEAP_STEPS_LOCKED &&
               RT_TP_RUN_CUT == RTHEAP_STEPS_RUN_CUT,
               "the test points of internal.h are those of rtheap_steps.h");

_Thread_local void (*rt_test_hook)(int point);
_Thread_local int rt_test_at;

void rtheap_steps_set_hook(int point, void (*fn)(int point))
{
	rt_test_at = point;
	rt_test_hook = fn;
}

void rtheap_steps_reset(void)
{
	rtheap_step_counter = 0;
}

unsigned long rtheap_steps_get(void)
{
	return rtheap_step_counter;
}
#endif
