// SPDX-License-Identifier: MIT
// Test cases that run in a fresh forked child (the process default heap
// is created once per process: each case needs its own process), shared
// by test_default.cc and test_kmem.cc.
#ifndef RTHEAP_TESTS_CHILD_COMMON_H
#define RTHEAP_TESTS_CHILD_COMMON_H

#include <cstdio>
#include <cstdlib>
#include <functional>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace rtchild {

// Exit status of a child that skips its case.
constexpr int kSkip = 77;

#ifdef RTHEAP_COVERAGE_BUILD
extern "C" void __gcov_dump(void);
// gcc --coverage replaces a direct call of fork() by one that clears the
// child's counts after fork() returns, so after the atfork handlers ran:
// through a pointer, the handlers' counts survive (the parent's, counted
// twice, are only larger).
inline pid_t (*volatile fork_fn)(void) = fork;
#else
inline pid_t (*const fork_fn)(void) = fork;
#endif

// Leave a child: _exit(), so that nothing of the test process runs again
// (LeakSanitizer would take the stacks of the parent's threads, gone in
// the child, for leaks), after writing the coverage counts.
[[noreturn]] inline void leave(int rc)
{
	std::fflush(stdout);
	std::fflush(stderr);
#ifdef RTHEAP_COVERAGE_BUILD
	__gcov_dump();
#endif
	_exit(rc);
}

// Run body in a fresh child (killed by SIGALRM after timeout_s), without
// the default heap's environment variables: its exit status, or 128 + the
// signal.
inline int run_child(const std::function<int()> &body, unsigned timeout_s = 30)
{
	std::fflush(stdout);
	std::fflush(stderr);
	pid_t pid = fork_fn();
	if (pid == 0) {
		alarm(timeout_s);
		unsetenv("RTHEAP_DEFAULT_SIZE");
		unsetenv("RTHEAP_DEFAULT_STEP");
		unsetenv("RTHEAP_DEFAULT_MAX");
		leave(body());
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 255;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

} // namespace rtchild

// A failed check in a child: print it and fail the child.
#define CK(cond)                                                              \
	do {                                                                  \
		if (!(cond)) {                                                \
			std::fprintf(stderr, "%s:%d: check failed in child %d: %s\n", \
			             __FILE__, __LINE__, (int)getpid(), #cond); \
			return 1;                                             \
		}                                                             \
	} while (0)

// Run a case body in a child: skipped or passed as the child says.
#define IN_CHILD(...)                                                         \
	do {                                                                  \
		int rc_ = rtchild::run_child(__VA_ARGS__);                            \
		if (rc_ == rtchild::kSkip)                                    \
			GTEST_SKIP() << "skipped in the child";               \
		ASSERT_EQ(0, rc_) << "child failed (see its message above)"; \
	} while (0)

#endif
