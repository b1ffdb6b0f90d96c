# The benchmark suite's own programs (bench/run drives them; see
# docs/PERFORMANCE.md).  Included from bench/CMakeLists.txt.
if(UNETMAP_BENCH AND EXISTS ${PROJECT_SOURCE_DIR}/include/net/netmap_user.h
   AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  # Baseline without netmap: socketpair (sendmmsg/recvmmsg) and pipe(2).
  add_executable(socket_peer socket_peer.c)
  target_link_libraries(socket_peer PRIVATE unetmap_headers)  # bench_util.h; no libnetmap
  # VALE: S senders, R receivers, frame length, learning or flooding.
  add_executable(vale_rate vale_rate.c)
  target_link_libraries(vale_rate PRIVATE netmap)
  # Fixed work on the sync paths, for callgrind instruction counts.
  add_executable(sync_cost sync_cost.c)
  target_link_libraries(sync_cost PRIVATE netmap)
endif()
