/* SPDX-License-Identifier: MIT */
// rtheap_check() as an oracle: for every fault kind of heap/check.c that a
// corruption can reach first, and for every part of its condition,
// corrupt the heap's private structures (tests/oracle/check_oracle.c,
// compiled with the library) and assert the exact description and the
// place reported: address, extent and page.  Kinds no corruption can
// reach are listed in tests/oracle/README.md.
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
	SCOPED_TRACE(oracle_variant(GetParam()) ? oracle_variant(GetParam()) : "first case");
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
	                         std::string w = oracle_what(info.param);
	                         if (oracle_variant(info.param))
		                         w += std::string(" ") + oracle_variant(info.param);
	                         for (char ch : w)
		                         n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
	                         return n;
                         });

// Every reachable kind has its first case, then variants of kinds already
// listed; no case twice.
TEST(OracleTable, KindsDistinct)
{
	std::set<std::string> kinds, cases;
	for (int k = 0; k < oracle_count(); k++) {
		const char *v = oracle_variant(k);
		if (!v)
			EXPECT_TRUE(kinds.insert(oracle_what(k)).second) << oracle_what(k);
		else
			EXPECT_EQ(1u, kinds.count(oracle_what(k))) << "variant of an unlisted kind: "
			                                           << oracle_what(k);
		EXPECT_TRUE(cases.insert(std::string(oracle_what(k)) + "/" + (v ? v : "")).second)
		    << oracle_what(k) << " / " << (v ? v : "");
	}
	EXPECT_EQ(52u, kinds.size());
	EXPECT_EQ(81, oracle_count());
}

} // namespace
