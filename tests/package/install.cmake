# SPDX-License-Identifier: MIT
#
# Package test, run by ctest as a CMake script:
#   cmake -DSRC=<source> -DWORK=<scratch> -DKIND=static|shared
#         -DCC=<C compiler> -DVERSION=<version built> [-DMAKE=<make>] [-DPKG_CONFIG=<pkg-config>]
#         [-DREADELF=<readelf>] -P install.cmake
#
# Builds the library alone (BUILD_SHARED_LIBS per KIND), installs it with
# `cmake --install --prefix`, moves the installed tree somewhere else, and
# builds and runs a consumer from the moved tree two ways: find_package and
# pkg-config (a Makefile).  Both consumers must run, print the version of
# the library, and be linked the way KIND says (a shared consumer needs
# librtheap.so, a static one does not).
cmake_minimum_required(VERSION 3.16)

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
require(install.cmake SRC WORK KIND CC VERSION)
if(KIND STREQUAL "shared")
  set(shared ON)
else()
  set(shared OFF)
endif()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# 1. the library alone, installed into a staging prefix
run("configure" ${CMAKE_COMMAND} -S "${SRC}" -B "${WORK}/build"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_COMPILER=${CC}" -DBUILD_SHARED_LIBS=${shared}
    -DRTHEAP_BUILD_TESTS=OFF -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF
    -DRTHEAP_BUILD_EXAMPLES=OFF)
run("build" ${CMAKE_COMMAND} --build "${WORK}/build")
run("install" ${CMAKE_COMMAND} --install "${WORK}/build" --prefix "${WORK}/stage")

# 2. relocate: nothing may still point at the staging prefix
file(RENAME "${WORK}/stage" "${WORK}/moved")
set(prefix "${WORK}/moved")
file(GLOB_RECURSE pcfiles "${prefix}/*/rtheap.pc")
list(LENGTH pcfiles npc)
if(NOT npc EQUAL 1)
  message(FATAL_ERROR "expected one installed rtheap.pc, found: ${pcfiles}")
endif()
file(READ "${pcfiles}" pc)
if(pc MATCHES "${WORK}" OR pc MATCHES "/usr/local" OR NOT pc MATCHES "pcfiledir")
  message(FATAL_ERROR "rtheap.pc is not relocatable:\n${pc}")
endif()
get_filename_component(pcdir "${pcfiles}" DIRECTORY)

# 3. consumer through find_package(rtheap)
run("find_package consumer: configure" ${CMAKE_COMMAND} -S "${SRC}/tests/package/consumer"
    -B "${WORK}/cmake-consumer" "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_COMPILER=${CC}"
    "-DRTHEAP_WANT_VERSION=${VERSION}")
run("find_package consumer: build" ${CMAKE_COMMAND} --build "${WORK}/cmake-consumer")
set(cmake_exe "${WORK}/cmake-consumer/consumer")

# 4. consumer through pkg-config, as a Makefile project
if(NOT PKG_CONFIG)
  find_program(PKG_CONFIG pkg-config)
endif()
if(NOT MAKE)
  find_program(MAKE make)
endif()
if(NOT PKG_CONFIG OR NOT MAKE)
  message(FATAL_ERROR "pkg-config and make are needed (Debian: apt-get install pkg-config make)")
endif()
file(MAKE_DIRECTORY "${WORK}/pc-consumer")
set(static_arg "")
if(NOT shared)
  set(static_arg "STATIC=1")
endif()
set(ENV{PKG_CONFIG_PATH} "${pcdir}")
run("pkg-config --cflags --libs rtheap" ${PKG_CONFIG} --cflags --libs rtheap)
if(NOT last_output MATCHES "-I${prefix}/" AND NOT last_output MATCHES "-I${pcdir}/")
  message(FATAL_ERROR "pkg-config does not point into the moved prefix: ${last_output}")
endif()
run("pkg-config consumer: make" ${MAKE} -C "${SRC}/tests/package/consumer"
    "OUT=${WORK}/pc-consumer" "CC=${CC}" "PKG_CONFIG=${PKG_CONFIG}" ${static_arg})
set(pc_exe "${WORK}/pc-consumer/consumer")

# 5. both run, and are linked the way KIND says
foreach(exe "${cmake_exe}" "${pc_exe}")
  run("run ${exe}" "${exe}")
  if(NOT last_output MATCHES "consumer ok")
    message(FATAL_ERROR "${exe}: unexpected output: ${last_output}")
  endif()
  message(STATUS "${exe}: ${last_output}")
  if(READELF)
    run("readelf ${exe}" ${READELF} -d "${exe}")
    if(shared AND NOT last_output MATCHES "NEEDED.*librtheap\\.so")
      message(FATAL_ERROR "${exe} should need librtheap.so:\n${last_output}")
    elseif(NOT shared AND last_output MATCHES "librtheap")
      message(FATAL_ERROR "${exe} should be linked statically:\n${last_output}")
    endif()
  endif()
endforeach()
message(STATUS "package test (${KIND}): find_package and pkg-config consumers passed")
