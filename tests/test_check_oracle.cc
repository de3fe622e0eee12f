/* SPDX-License-Identifier: MIT */
// rtheap_check() as an oracle: for every fault kind of heap/check.c that a
// corruption can reach first, corrupt the heap's private structures
// (tests/oracle/check_oracle.c, compiled with the library) and assert the
// exact description and the place reported: address, extent and page.
// Kinds no corruption can reach are listed in tests/oracle/README.md.
#include <cctype>
#include <cstring>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "oracle/check_oracle.h"

namespace {

class Oracle : public ::testing::TestWithParam<int> {};

TEST_P(Oracle, FaultReportedWhereItIs)
{
	struct oracle_result r;
	oracle_run(GetParam(), &r);
	SCOPED_TRACE(oracle_what(GetParam()));
	ASSERT_TRUE(r.setup_ok);
	EXPECT_EQ(-EUCLEAN, r.rc);
	ASSERT_NE(nullptr, r.got.what);
	EXPECT_STREQ(r.want.what, r.got.what);
	EXPECT_EQ(r.want.addr, r.got.addr);
	EXPECT_EQ(r.want.extent, r.got.extent);
	EXPECT_EQ(r.want.page, r.got.page);
	EXPECT_EQ(0, r.rc_after) << "the repaired heap checks clean";
}

INSTANTIATE_TEST_SUITE_P(EveryKind, Oracle, ::testing::Range(0, oracle_count()),
                         [](const ::testing::TestParamInfo<int> &info) {
	                         std::string n = "k" + std::to_string(info.param) + "_";
	                         for (const char *p = oracle_what(info.param); *p; p++)
		                         n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
	                         return n;
                         });

// One case per kind, no kind twice.
TEST(OracleTable, KindsDistinct)
{
	std::set<std::string> kinds;
	for (int k = 0; k < oracle_count(); k++)
		EXPECT_TRUE(kinds.insert(oracle_what(k)).second) << oracle_what(k);
	EXPECT_EQ(50, oracle_count());
}

} // namespace
