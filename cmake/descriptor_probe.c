/* SPDX-License-Identifier: MIT */
/* Compiled (not run) at configure time by RtheapDescriptor.cmake: the size
 * of struct rt_heap, written in decimal into the object file, where CMake
 * reads it back.  Ten digits: the size of any descriptor the build allows. */
#include "internal.h"

#define RT_DIGIT(k) ((char)('0' + (sizeof(struct rt_heap) / (k)) % 10u))
const char rtheap_descriptor_probe[] = {
	'R', 'T', 'H', 'E', 'A', 'P', '_', 'D', 'E', 'S', 'C', '[',
	RT_DIGIT(1000000000u), RT_DIGIT(100000000u), RT_DIGIT(10000000u),
	RT_DIGIT(1000000u), RT_DIGIT(100000u), RT_DIGIT(10000u), RT_DIGIT(1000u),
	RT_DIGIT(100u), RT_DIGIT(10u), RT_DIGIT(1u), ']', '\0'};
