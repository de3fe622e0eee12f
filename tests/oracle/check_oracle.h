/* SPDX-License-Identifier: MIT */
/* rtheap_check() as an oracle: one corruption per fault kind of heap/check.c
 * (tests/oracle/check_oracle.c, driven by tests/test_check_oracle.cc). */
#ifndef RTHEAP_CHECK_ORACLE_H
#define RTHEAP_CHECK_ORACLE_H

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

struct oracle_result {
	int setup_ok;               /* the heap was built and checked clean */
	int rc;                     /* rtheap_check() on the corrupted heap */
	struct rtheap_fault got;    /* what it reported */
	struct rtheap_fault want;   /* what the corruption must produce */
	int rc_after;               /* rtheap_check() once repaired */
};

/* Number of cases, the fault kind (exact `what` string) of case k, and
 * which part of the kind's condition it reaches (NULL for a kind's first
 * case). */
int oracle_count(void);
const char *oracle_what(int k);
const char *oracle_variant(int k);
/* Builds a fresh heap, applies corruption k, checks, repairs, checks. */
void oracle_run(int k, struct oracle_result *r);

#ifdef __cplusplus
}
#endif
#endif
