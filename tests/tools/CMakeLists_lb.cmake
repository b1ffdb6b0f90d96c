# Integration tests of lb and nmstat (include()d from tests/tools/CMakeLists.txt).
# Each case runs lb_nmstat_test.sh in a fresh UNETMAP_DIR under /dev/shm.
if(TARGET lb AND TARGET nmstat AND TARGET pkt-gen AND TARGET valectl)
  add_executable(flow_recorder ${CMAKE_CURRENT_LIST_DIR}/flow_recorder.c)
  target_link_libraries(flow_recorder PRIVATE netmap unetmap_headers)

  foreach(case lb_spread lb_symmetric lb_groups_copy lb_overflow nmstat_vale bad_input)
    add_test(NAME lb_nmstat_${case}
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/lb_nmstat_test.sh
              $<TARGET_FILE:lb> $<TARGET_FILE:nmstat> $<TARGET_FILE:pkt-gen>
              $<TARGET_FILE:valectl> $<TARGET_FILE:flow_recorder> ${case})
    set_tests_properties(lb_nmstat_${case} PROPERTIES TIMEOUT 60 LABELS "integration;tools")
  endforeach()
endif()
