# SPDX-License-Identifier: MIT
#
# Generate rtheap/config.h.  The size of the public descriptor rtheap_t
# must equal the size of the private struct rt_heap (heap/internal.h),
# which depends on RTHEAP_MAX_EXTENTS, the pointer size and the C library:
# it is measured here with the project's compiler and flags, and heap.c
# checks the result in both directions at compile time.  The probe runs
# at every configure, and editing internal.h re-runs the configure.
include(CheckTypeSize)

set(probe_dir ${PROJECT_BINARY_DIR}/descriptor-probe)
# The probe's own config.h: the descriptor size is not needed to measure
# struct rt_heap, so any value will do.
set(RTHEAP_DESC_WORDS 1)
configure_file(${PROJECT_SOURCE_DIR}/include/rtheap/config.h.in
               ${probe_dir}/include/rtheap/config.h @ONLY)

set(CMAKE_EXTRA_INCLUDE_FILES internal.h)
set(CMAKE_REQUIRED_INCLUDES ${PROJECT_SOURCE_DIR}/heap ${PROJECT_SOURCE_DIR}/include
                            ${probe_dir}/include)
set(CMAKE_REQUIRED_DEFINITIONS -D_POSIX_C_SOURCE=200809L)
set(CMAKE_REQUIRED_QUIET ON)
unset(RTHEAP_SIZEOF_RT_HEAP CACHE)
unset(HAVE_RTHEAP_SIZEOF_RT_HEAP CACHE)
check_type_size("struct rt_heap" RTHEAP_SIZEOF_RT_HEAP LANGUAGE C)
unset(CMAKE_EXTRA_INCLUDE_FILES)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_DEFINITIONS)
unset(CMAKE_REQUIRED_QUIET)
if(NOT RTHEAP_SIZEOF_RT_HEAP)
  message(FATAL_ERROR "rtheap: could not measure struct rt_heap with this compiler "
                      "(see CMakeFiles/CMakeError.log)")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/heap/internal.h ${PROJECT_SOURCE_DIR}/heap/hooks.h)

math(EXPR RTHEAP_DESC_WORDS "(${RTHEAP_SIZEOF_RT_HEAP} + 7) / 8")
math(EXPR RTHEAP_DESC_BYTES "${RTHEAP_DESC_WORDS} * 8")
configure_file(${PROJECT_SOURCE_DIR}/include/rtheap/config.h.in
               ${PROJECT_BINARY_DIR}/include/rtheap/config.h @ONLY)
