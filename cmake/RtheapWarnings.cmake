# Warnings (errors by default) and sanitizer flags shared by every target.
add_library(rtheap_warnings INTERFACE)
target_compile_options(rtheap_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
  $<$<BOOL:${RTHEAP_WERROR}>:-Werror>)

if(RTHEAP_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(RTHEAP_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT RTHEAP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "RTHEAP_SANITIZE must be '', 'address' or 'thread'")
endif()
