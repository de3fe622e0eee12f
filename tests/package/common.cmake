# SPDX-License-Identifier: MIT
# Helpers of the package test scripts (included, not run).

# require(<script> <var>...): each -D<var>= must be given.
function(require script)
  foreach(v ${ARGN})
    if(NOT DEFINED ${v})
      message(FATAL_ERROR "${script}: -D${v}= missing")
    endif()
  endforeach()
endfunction()

# run(<what> <command>...): run a command, fail the test with its output if
# it fails; its output is left in last_output.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
