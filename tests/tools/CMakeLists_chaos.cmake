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

# The same for an interface on a VALE switch (issue 9): SIGKILLs its
# forwarding agent, the VALE senders and receivers, the peer's pkt-gen on
# the veth and valectl attach/detach/list under traffic for CHAOS_SECONDS
# (default 15), then checks exact counts through switch, agent and veth,
# and that detach leaves no agent, no XDP program and an empty state
# directory (root, network namespaces of its own; skipped otherwise).
if(TARGET pkt-gen AND TARGET valectl AND TARGET nmstat AND TARGET unetmap-vale-agent)
  add_test(NAME tools_chaos_agent
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/chaos_agent_test.sh
            $<TARGET_FILE:pkt-gen> $<TARGET_FILE:valectl> $<TARGET_FILE:nmstat>)
  set_tests_properties(tools_chaos_agent PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 RESOURCE_LOCK netns
                       LABELS "integration;tools")
endif()
