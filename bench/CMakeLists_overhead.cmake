# The interposition overhead benchmark (docs/PERFORMANCE-interposition.md):
# one pipe workload (overhead_loop.h) through nmport_* + ioctl linked
# (overhead_nmport), raw ioctl under LD_PRELOAD (overhead_raw, not linked
# with libnetmap), and the core's C++ API (overhead_direct).  Run all three
# side by side with:
#   cmake --build --preset release --target bench_interpose_overhead
# Included from bench/CMakeLists.txt.
if(UNETMAP_BENCH AND EXISTS ${PROJECT_SOURCE_DIR}/include/libnetmap.h)
  add_executable(overhead_nmport overhead_ioctl.c)
  target_compile_definitions(overhead_nmport PRIVATE OV_NMPORT)
  target_link_libraries(overhead_nmport PRIVATE netmap)
  add_executable(overhead_raw overhead_ioctl.c)
  target_link_libraries(overhead_raw PRIVATE unetmap_headers)
  add_executable(overhead_direct overhead_direct.cpp)
  target_include_directories(overhead_direct PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(overhead_direct PRIVATE netmap_static)
  add_custom_target(bench_interpose_overhead
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interpose_overhead.sh
            $<TARGET_FILE_DIR:overhead_direct> $<TARGET_FILE:netmap>
    DEPENDS overhead_nmport overhead_raw overhead_direct netmap
    USES_TERMINAL
    COMMENT "interposition overhead: nmport / LD_PRELOAD / direct C++ API")
endif()
