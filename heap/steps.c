/* SPDX-License-Identifier: MIT */
/* steps.c -- the step counter of test builds (see rtheap_steps.h). */
#ifndef RTHEAP_UNITY_BUILD
#error "steps.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"
#include "rtheap_steps.h"

#ifdef RTHEAP_STEP_COUNT
void rtheap_steps_reset(void)
{
	rtheap_step_counter = 0;
}

unsigned long rtheap_steps_get(void)
{
	return rtheap_step_counter;
}
#endif
