# Crash recovery under traffic (issue 9): SIGKILLs senders, receivers, a
# bridge and valectl at random for CHAOS_SECONDS (default 20), then checks
# that the persistent ports still work with exact counts and that nothing
# is left in the state directory.
if(TARGET pkt-gen AND TARGET bridge AND TARGET valectl AND TARGET nmstat)
  add_test(NAME tools_chaos
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/chaos_test.sh
            $<TARGET_FILE:pkt-gen> $<TARGET_FILE:bridge> $<TARGET_FILE:valectl> $<TARGET_FILE:nmstat>)
  set_tests_properties(tools_chaos PROPERTIES TIMEOUT 120 LABELS "integration;tools")
endif()
