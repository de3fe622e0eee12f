# SPDX-License-Identifier: MIT
# Reliability tests (issue 4), included from tests/CMakeLists.txt:
#   rel_errors       docs/errors.md, one test per row            label unit
#   rel_asan         ASan reports inside the heap (ASan build)   label unit
#   rel_concurrency  threads > CPUs, PI boost; TSan build too    label concurrency
#   valgrind_memcheck  Memcheck sees misuse inside rtheap        label valgrind
#   fuzz_corpus, fuzz_short  libFuzzer target (clang only)       label fuzz
#   rtheap_soak      soak program, not run by ctest except a short smoke run
# GTest was found by tests/CMakeLists.txt
find_package(Threads REQUIRED)
include(GoogleTest)

set(REL_DIR ${CMAKE_CURRENT_LIST_DIR})

function(rel_gtest name label)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE rtheap GTest::gtest GTest::gtest_main
                        Threads::Threads rtheap_warnings)
  set(lock "")
  if(label STREQUAL "concurrency")
    set(lock RESOURCE_LOCK rt_cpus) # SCHED_FIFO threads: one such test at a time
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${name}." DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS ${label} TIMEOUT 300 ${lock})
endfunction()

if(NOT RTHEAP_SANITIZE STREQUAL "thread")
  rel_gtest(rel_errors unit ${REL_DIR}/test_errors.cc)
  rel_gtest(rel_asan unit ${REL_DIR}/asan/test_asan.cc)
endif()
rel_gtest(rel_concurrency concurrency ${REL_DIR}/test_concurrency.cc)

# ---- soak program (run by hand, see tests/soak/README.md) ----
add_executable(rtheap_soak ${REL_DIR}/soak/soak.c)
target_link_libraries(rtheap_soak PRIVATE rtheap rtheap_warnings)
if(NOT RTHEAP_SANITIZE STREQUAL "thread")
  add_test(NAME soak_smoke COMMAND rtheap_soak --ops 300000 --check 50000 --heap 4000000
           --slots 4000)
  # The exit status decides (a PASS regex would make ctest ignore it).
  set_tests_properties(soak_smoke PROPERTIES LABELS unit TIMEOUT 300
                       FAIL_REGULAR_EXPRESSION "SOAK FAILED")
endif()

# ---- valgrind: programs linked with the default library, which speaks to
# Memcheck when it runs under it (heap/hooks.h) ----
find_program(VALGRIND_PROGRAM valgrind)
if(RTHEAP_HAVE_MEMCHECK_H AND RTHEAP_SANITIZE STREQUAL "" AND VALGRIND_PROGRAM)
  foreach(prog vg_clean vg_uaf vg_overrun vg_leak vg_node)
    add_executable(${prog} ${REL_DIR}/valgrind/${prog}.c)
    target_link_libraries(${prog} PRIVATE rtheap rtheap_warnings)
    target_compile_options(${prog} PRIVATE -O0 -g)
    if(CMAKE_C_COMPILER_ID MATCHES "Clang")
      # valgrind 3.19 cannot read clang 14's default DWARF 5.
      target_compile_options(${prog} PRIVATE -gdwarf-4)
    endif()
  endforeach()
  add_test(NAME valgrind_memcheck
           COMMAND sh ${REL_DIR}/valgrind/run_valgrind.sh ${VALGRIND_PROGRAM}
                   $<TARGET_FILE_DIR:vg_uaf>)
  set_tests_properties(valgrind_memcheck PROPERTIES LABELS valgrind TIMEOUT 300)
  if(BUILD_SHARED_LIBS)
    set_tests_properties(valgrind_memcheck PROPERTIES
                         ENVIRONMENT "LD_LIBRARY_PATH=$<TARGET_FILE_DIR:rtheap>")
  endif()
elseif(RTHEAP_SANITIZE STREQUAL "")
  message(STATUS "valgrind test disabled: needs valgrind and valgrind/memcheck.h")
endif()

# ---- libFuzzer target: clang only ----
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  option(RTHEAP_FUZZ "Build the libFuzzer target (clang)" ON)
else()
  set(RTHEAP_FUZZ OFF)
endif()
if(RTHEAP_FUZZ AND NOT RTHEAP_SANITIZE STREQUAL "thread")
  # The heap sources are compiled into the target so that libFuzzer sees
  # their coverage and ASan (with the heap's poisoning) watches them.
  add_executable(rtheap_fuzz ${REL_DIR}/fuzz/fuzz_heap.c ${PROJECT_SOURCE_DIR}/heap/unity.c)
  target_include_directories(rtheap_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR}/heap)
  target_compile_definitions(rtheap_fuzz PRIVATE _POSIX_C_SOURCE=200809L)
  target_compile_options(rtheap_fuzz PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=undefined -fno-omit-frame-pointer
                         -fsanitize-coverage-ignorelist=${REL_DIR}/fuzz/coverage-ignore.txt)
  target_link_options(rtheap_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(rtheap_fuzz PRIVATE Threads::Threads rtheap_warnings)
  # Every seed once (a regression test for past findings), then a minute of
  # fuzzing from a copy of the seeds.
  add_test(NAME fuzz_corpus COMMAND sh -c "$<TARGET_FILE:rtheap_fuzz> ${REL_DIR}/fuzz/corpus/*")
  add_test(NAME fuzz_short
           COMMAND sh ${REL_DIR}/fuzz/run_fuzz.sh $<TARGET_FILE:rtheap_fuzz> ${REL_DIR}/fuzz/corpus
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_short -max_total_time=60)
  set_tests_properties(fuzz_corpus fuzz_short PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
