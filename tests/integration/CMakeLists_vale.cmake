# Included from tests/integration/CMakeLists.txt: the VALE switch tests.
#
# vale_test goes through the public API (libnetmap.so interposes
# /dev/netmap), runs the valectl binary, and reads the control file's layout
# from src/core/registry.h for one test (header-only use).  It creates its
# own state directory under /dev/shm and removes it.
if(NOT TARGET GTest::gtest)
  find_package(GTest REQUIRED)
endif()
include(GoogleTest)

add_executable(vale_test ${CMAKE_CURRENT_LIST_DIR}/vale_test.cpp)
target_include_directories(vale_test PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests/unit)  # test_support.h
target_link_libraries(vale_test PRIVATE netmap unetmap_headers GTest::gtest Threads::Threads)
target_compile_definitions(vale_test PRIVATE VALECTL_PATH="$<TARGET_FILE:valectl>")
add_dependencies(vale_test valectl)
gtest_discover_tests(vale_test DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 300 LABELS "integration;vale")
