# Included from tests/unit/CMakeLists.txt: unit tests of the port-name grammar
# and option parsing of the userspace library (no /dev/netmap needed).
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
include(GoogleTest)

add_executable(nmreq_decode_test ${CMAKE_CURRENT_LIST_DIR}/nmreq_decode_test.cpp)
target_link_libraries(nmreq_decode_test PRIVATE unetmap_userlib GTest::gtest_main)
gtest_discover_tests(nmreq_decode_test)
