# SPDX-License-Identifier: MIT
#
# Generate rtheap/config.h.  The size of the public descriptor rtheap_t
# must equal the size of the private struct rt_heap (heap/internal.h),
# which depends on RTHEAP_MAX_EXTENTS, the pointer size and the C library:
# it is measured here with the project's compiler and flags, and heap.c
# checks the result in both directions at compile time.  The probe runs
# at every configure, and editing internal.h re-runs the configure.
set(probe_dir ${PROJECT_BINARY_DIR}/descriptor-probe)
# The probe's own config.h: the descriptor size is not needed to measure
# struct rt_heap, so any value will do.
set(RTHEAP_DESC_WORDS 1)
configure_file(${PROJECT_SOURCE_DIR}/include/rtheap/config.h.in
               ${probe_dir}/include/rtheap/config.h @ONLY)

# The size is compiled into an object file as ten decimal digits and read
# back from it (CMake's check_type_size writes only five: a descriptor of
# 100000 bytes or more, RTHEAP_MAX_EXTENTS above about 2300, would be
# misread).  The probe is compiled with the project's compiler and flags
# (CMAKE_C_FLAGS: -m32 included), never run, so cross builds work too.
set(probe_out ${probe_dir}/descriptor_probe${CMAKE_STATIC_LIBRARY_SUFFIX})
file(REMOVE ${probe_out})
unset(rtheap_probe_ok CACHE)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
try_compile(rtheap_probe_ok ${probe_dir}/build
  ${PROJECT_SOURCE_DIR}/cmake/descriptor_probe.c
  CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${PROJECT_SOURCE_DIR}/heap;${PROJECT_SOURCE_DIR}/include;${probe_dir}/include"
  COMPILE_DEFINITIONS -D_POSIX_C_SOURCE=200809L -std=c11
  OUTPUT_VARIABLE probe_log
  COPY_FILE ${probe_out})
unset(CMAKE_TRY_COMPILE_TARGET_TYPE)
set(RTHEAP_SIZEOF_RT_HEAP "")
if(rtheap_probe_ok AND EXISTS ${probe_out})
  file(STRINGS ${probe_out} probe_str REGEX "RTHEAP_DESC\\[[0-9]+\\]")
  if(probe_str MATCHES "RTHEAP_DESC\\[([0-9]+)\\]")
    math(EXPR RTHEAP_SIZEOF_RT_HEAP "${CMAKE_MATCH_1}")
  endif()
endif()
if(NOT RTHEAP_SIZEOF_RT_HEAP)
  message(FATAL_ERROR "rtheap: could not measure struct rt_heap with this compiler:\n"
                      "${probe_log}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/heap/internal.h ${PROJECT_SOURCE_DIR}/heap/hooks.h)

math(EXPR RTHEAP_DESC_WORDS "(${RTHEAP_SIZEOF_RT_HEAP} + 7) / 8")
math(EXPR RTHEAP_DESC_BYTES "${RTHEAP_DESC_WORDS} * 8")
configure_file(${PROJECT_SOURCE_DIR}/include/rtheap/config.h.in
               ${PROJECT_BINARY_DIR}/include/rtheap/config.h @ONLY)
