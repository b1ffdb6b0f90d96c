# Tests of libunetmap-pcap.so and nmreplay (include()d from
# tests/tools/CMakeLists.txt).  Each case runs pcap_test.sh in a fresh
# UNETMAP_DIR under /dev/shm.
if(TARGET unetmap-pcap AND TARGET nmreplay AND TARGET pkt-gen)
  # pcap_frames is built in CMakeLists.txt (tools_test.sh uses it too)
  # linked with the shim ahead of libpcap: no LD_PRELOAD needed, so it
  # runs in the sanitizer builds too
  add_executable(pcap_probe ${CMAKE_CURRENT_LIST_DIR}/pcap_probe.c)
  target_link_libraries(pcap_probe PRIVATE unetmap-pcap PkgConfig::PCAP)

  set(pcap_cases probe_api probe_inject probe_filter nmreplay_timing nmreplay_options bad_input)
  # The tcpdump cases preload the shim into Debian's tcpdump.  In a
  # sanitizer build the shim needs the ASan/UBSan runtimes loaded first,
  # which an uninstrumented tcpdump does not have (ASan refuses to start
  # unless it comes first in the library list; preloading the runtimes
  # ahead of the shim left tcpdump hanging when we tried), so they run in
  # the other builds only.  tcpdump itself is needed (scripts/debian-packages.txt).
  find_program(TCPDUMP tcpdump PATHS /usr/sbin /usr/bin)
  if(TCPDUMP AND NOT UNETMAP_SANITIZE AND NOT UNETMAP_TSAN)
    list(APPEND pcap_cases tcpdump_capture tcpdump_filter tcpdump_replay tcpdump_lo tcpdump_errors
                           tcpdump_zcopy findalldevs)
    # tshark and dumpcap (Debian's tshark package; skipped without it)
    list(APPEND pcap_cases tshark_capture dumpcap_filter tcpdump_tshark_read)
  endif()
  foreach(case ${pcap_cases})
    add_test(NAME pcap_${case}
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/pcap_test.sh
              $<TARGET_FILE:unetmap-pcap> $<TARGET_FILE:pkt-gen> $<TARGET_FILE:nmreplay>
              $<TARGET_FILE:pcap_probe> $<TARGET_FILE:pcap_frames> "${TCPDUMP}" ${case})
    set_tests_properties(pcap_${case} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS "integration;tools;pcap")
  endforeach()
endif()
