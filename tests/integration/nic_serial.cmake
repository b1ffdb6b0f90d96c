# Included by ctest after gtest discovery: the NIC tests share a lock so
# that two of them never run at once (each makes namespaces and veth pairs).
get_property(unetmap_all_tests DIRECTORY PROPERTY TESTS)
foreach(t ${unetmap_all_tests})
  if(t MATCHES "^Modes/Nic\\.")
    set_tests_properties(${t} PROPERTIES RESOURCE_LOCK netns LABELS "integration;netns")
  endif()
endforeach()
