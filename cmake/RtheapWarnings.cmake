# SPDX-License-Identifier: MIT
# Warnings (errors by default) and sanitizer flags shared by every target.
add_library(rtheap_warnings INTERFACE)
target_compile_options(rtheap_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
  $<$<BOOL:${RTHEAP_WERROR}>:-Werror>)

# RTHEAP_SANITIZE: '' (none), 'address', 'undefined', 'address,undefined'
# (comma-separated, as for -fsanitize=) or 'thread'.  UBSan stops at the
# first error, so that a test fails on it.
if(RTHEAP_SANITIZE STREQUAL "address" OR RTHEAP_SANITIZE STREQUAL "undefined"
   OR RTHEAP_SANITIZE STREQUAL "address,undefined" OR RTHEAP_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=${RTHEAP_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${RTHEAP_SANITIZE})
  if(RTHEAP_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
elseif(NOT RTHEAP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "RTHEAP_SANITIZE must be '', 'address', 'undefined', "
          "'address,undefined' or 'thread' (got '${RTHEAP_SANITIZE}')")
endif()
