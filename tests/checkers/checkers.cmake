# SPDX-License-Identifier: MIT
# The installed library and the memory checkers users run (heap/hooks.h),
# included from tests/CMakeLists.txt:
#   checkers_installed  install, build tests/checkers/uaf.c with pkg-config,
#                       ASan and valgrind must report its use after free
#                       label unit; plain (non-sanitizer, non-coverage) builds only
if(NOT RTHEAP_SANITIZE STREQUAL "" OR RTHEAP_COVERAGE)
  # (a coverage build's installed library needs gcov at link time)
  return()
endif()
if(CMAKE_SIZEOF_VOID_P EQUAL 4)
  message(STATUS "checkers_installed: not in a 32-bit build (valgrind and the consumer build are 64-bit here)")
  return()
endif()
find_program(VALGRIND_PROGRAM valgrind)
set(CHECKERS_VALGRIND "${VALGRIND_PROGRAM}")
if(NOT VALGRIND_PROGRAM)
  set(CHECKERS_VALGRIND "")
endif()
add_test(NAME checkers_installed
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run_checkers.sh ${CMAKE_COMMAND}
                 ${PROJECT_BINARY_DIR} ${CMAKE_CURRENT_LIST_DIR}/uaf.c ${CMAKE_C_COMPILER}
                 ${CMAKE_INSTALL_LIBDIR} "${CHECKERS_VALGRIND}"
                 ${CMAKE_CURRENT_BINARY_DIR}/checkers_installed)
set_tests_properties(checkers_installed PROPERTIES LABELS unit TIMEOUT 300
                     SKIP_RETURN_CODE 77)
