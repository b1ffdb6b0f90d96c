// main() of every unetmap test program: runs the tests in a state directory
// of their own (a fresh /dev/shm/unetmap-test.XXXXXX exported as
// UNETMAP_DIR before anything touches netmap), removed at the end.  Tests
// running in parallel (ctest -j) thus never share state, and each test can
// assert that the directory is empty once it closed everything.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "test_support.h"

namespace {

pid_t g_main_pid = 0;

// A test program that crashes must not leave its state directory behind
// (a forked child that crashes must leave it alone: it is its parent's).
void on_fatal_signal(int sig) {
    if (::getpid() == g_main_pid) {
        nmtest::wipe_state_dir();
        ::rmdir(nmtest::state_dir().c_str());
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

int main(int argc, char** argv) {
    // A child process started by nmtest::spawn_role: it works in its
    // parent's state directory (inherited UNETMAP_DIR).
    if (int rc = nmtest::maybe_run_role(argc, argv); rc >= 0) return rc;
    ::testing::InitGoogleTest(&argc, argv);
    char tmpl[] = "/dev/shm/unetmap-test.XXXXXX";
    const bool listing = ::testing::GTEST_FLAG(list_tests);
    if (!listing) {
        if (!::mkdtemp(tmpl)) {
            std::perror("mkdtemp /dev/shm");
            return 2;
        }
        ::setenv("UNETMAP_DIR", tmpl, 1);
        // Tests never open the machine's own interfaces: NIC ports only in
        // network namespaces the tests made (src/ports/nic.cpp).
        ::setenv("UNETMAP_NIC_NETNS_ONLY", "1", 1);
        g_main_pid = ::getpid();
#ifdef __SANITIZE_ADDRESS__
        // Leave SIGSEGV & co. to AddressSanitizer, which reports them.
        for (int sig : {SIGABRT, SIGTERM, SIGINT})
#else
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGTERM, SIGINT})
#endif
            std::signal(sig, on_fatal_signal);
    }
    const int rc = RUN_ALL_TESTS();
    if (!listing) {
        const auto left = nmtest::state_entries();
        if (!left.empty())
            std::fprintf(stderr, "note: removing leftovers in %s: %s\n", tmpl, nmtest::join(left).c_str());
        nmtest::wipe_state_dir();
        ::rmdir(tmpl);
    }
    return rc;
}
