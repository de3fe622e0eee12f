# SPDX-License-Identifier: MIT
#
# Build-configuration test, run by ctest as a CMake script:
#   cmake -DSRC=<source> -DWORK=<scratch> -DCC=<C compiler> -P configs.cmake
#
#  1. No GoogleTest (find_package disabled): the configure succeeds, says
#     that the tests are not built, and the library builds.
#  2. No C++ compiler: the same.
#  3. Used by another project through add_subdirectory: only the library is
#     built, the tests, latency harness, demo and examples are not even
#     configured, and no CMAKE_BUILD_TYPE is written into the cache.
cmake_minimum_required(VERSION 3.16)

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require(configs.cmake SRC WORK CC)

function(expect_library dir)
  file(GLOB_RECURSE libs "${dir}/librtheap.*")
  if(NOT libs)
    message(FATAL_ERROR "no librtheap built in ${dir}")
  endif()
endfunction()

function(expect_no_extras dir)
  foreach(name test_api rtheap-latency rtdemo rtheap-example)
    file(GLOB_RECURSE found "${dir}/${name}")
    if(found)
      message(FATAL_ERROR "${name} was built in ${dir}: a library-only build expected")
    endif()
  endforeach()
endfunction()

file(REMOVE_RECURSE "${WORK}")

# 1. no GoogleTest
run("configure without GoogleTest" ${CMAKE_COMMAND} -S "${SRC}" -B "${WORK}/nogtest"
    "-DCMAKE_C_COMPILER=${CC}" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
    -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF)
if(NOT last_output MATCHES "GoogleTest not found")
  message(FATAL_ERROR "no message about the missing GoogleTest:\n${last_output}")
endif()
run("build without GoogleTest" ${CMAKE_COMMAND} --build "${WORK}/nogtest" --target rtheap)
expect_library("${WORK}/nogtest")

# 2. no C++ compiler
set(ENV{CXX} "${WORK}/no-such-c++-compiler")
run("configure without a C++ compiler" ${CMAKE_COMMAND} -S "${SRC}" -B "${WORK}/nocxx"
    "-DCMAKE_C_COMPILER=${CC}" -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF)
unset(ENV{CXX})
if(NOT last_output MATCHES "no C\\+\\+ compiler")
  message(FATAL_ERROR "no message about the missing C++ compiler:\n${last_output}")
endif()
run("build without a C++ compiler" ${CMAKE_COMMAND} --build "${WORK}/nocxx" --target rtheap)
expect_library("${WORK}/nocxx")

# 3. a subproject
file(MAKE_DIRECTORY "${WORK}/parent")
file(WRITE "${WORK}/parent/CMakeLists.txt" "cmake_minimum_required(VERSION 3.16)
project(parent LANGUAGES C)
add_subdirectory(\"${SRC}\" rtheap)
add_executable(app app.c)
target_link_libraries(app PRIVATE rtheap::rtheap)
")
file(WRITE "${WORK}/parent/app.c" "#include <rtheap/rtheap.h>
#include <stdio.h>
static _Alignas(256) unsigned char arena[RTHEAP_BUFFER_SIZE(8192, 256)];
int main(void)
{
	rtheap_t h;
	if (rtheap_init(&h, arena, sizeof(arena), NULL))
		return 1;
	void *p = rtheap_alloc(&h, 64);
	if (!p || rtheap_free(&h, p))
		return 2;
	puts(\"subproject app ok\");
	return 0;
}
")
run("configure the parent project" ${CMAKE_COMMAND} -S "${WORK}/parent" -B "${WORK}/parent-build"
    "-DCMAKE_C_COMPILER=${CC}")
file(STRINGS "${WORK}/parent-build/CMakeCache.txt" bt REGEX "^CMAKE_BUILD_TYPE:")
if(bt AND NOT bt MATCHES "=$")
  message(FATAL_ERROR "the subproject wrote a build type into the cache: ${bt}")
endif()
run("build the parent project" ${CMAKE_COMMAND} --build "${WORK}/parent-build")
expect_library("${WORK}/parent-build")
expect_no_extras("${WORK}/parent-build")
if(EXISTS "${WORK}/parent-build/rtheap/tests" OR EXISTS "${WORK}/parent-build/rtheap/latency")
  message(FATAL_ERROR "the subproject configured its tests or latency harness")
endif()
run("run the parent's program" "${WORK}/parent-build/app")
message(STATUS "configs: no GoogleTest, no C++ compiler and subproject builds passed")
