// Processes that die without closing (SIGKILL): what they held must not
// block anyone (exclusive rings, port names), the survivors keep working,
// and once everyone else has closed, nothing is left in the state
// directory.  Dead bindings are found by the garbage collector (a binding's
// socket nobody holds any more) on the next control operation.
#include <signal.h>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>

#include "test_support.h"

using nmtest::Port;
using nmtest::StateDirEmpty;

namespace {

class Crash : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(StateDirEmpty()); }
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

void sleep_ms(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Start "hold" and wait until it has registered everything.
pid_t start_holder(const std::vector<std::string>& names, uint64_t flags, uint32_t frames) {
    nmtest::Chan ready;
    std::vector<std::string> args = {ready.ws(), std::to_string(flags), std::to_string(frames)};
    args.insert(args.end(), names.begin(), names.end());
    const pid_t pid = nmtest::spawn_role("hold", args);
    uint32_t v = 0;
    if (pid <= 0 || !ready.recv(v) || v != 1) {
        if (pid > 0) nmtest::kill_child(pid);
        return -1;
    }
    return pid;
}

}  // namespace

// args: ready_fd flags frames name...  Registers every name with nr_flags =
// flags, sends `frames` frames on each, reports 1 (or 0 on failure), and
// waits to be killed (at most 60 s).
NMTEST_ROLE(hold) {
    const int ready = std::stoi(args[0]);
    const uint64_t flags = std::stoull(args[1]);
    const uint32_t frames = nmtest::arg_u32(args, 2);
    static std::vector<Port*> ports;  // never closed: the process is killed
    for (size_t i = 3; i < args.size(); i++) {
        ports.push_back(new Port);
        if (ports.back()->open(args[i].c_str(), [&](nmreq_register& r) {
                r.nr_flags = flags;
                r.nr_extra_bufs = 2;
            })) {
            nmtest::chan_send(ready, 0);
            return 2;
        }
        for (uint32_t f = 0; f < frames; f++) nmtest::put_frame(ports.back()->tx(0), 60 + f, f);
        if (frames && ports.back()->txsync()) return 3;
    }
    nmtest::chan_send(ready, 1);
    for (int i = 0; i < 600; i++) sleep_ms(100);
    return 4;
}

// args: seconds.  Registers, uses and closes ports in a loop until killed.
NMTEST_ROLE(churn) {
    const double end = nmtest::now_s() + nmtest::arg_u32(args, 0);
    for (uint32_t it = 0; nmtest::now_s() < end; it++) {
        Port a, m, s;
        const std::string id = std::to_string(it % 3);
        if (a.open(("null:churn" + id).c_str(), [](nmreq_register& r) { r.nr_extra_bufs = 5; })) return 2;
        if (m.open(("ch{" + id).c_str())) return 3;
        if (s.open(("ch}" + id).c_str())) return 4;
        nmtest::put_frame(m.tx(0), 60, it);
        nmtest::put_frame(a.tx(0), 60, it);
        if (m.txsync() || a.txsync() || s.rxsync()) return 5;
        if (it % 2) a.close();  // various close orders
        s.close();
        m.close();
    }
    return 0;
}

TEST_F(Crash, DeadHolderOfExclusivePortsIsReclaimedOnTheNextRegister) {
    const pid_t pid = start_holder({"null:k", "ck{1", "ck}1"}, NR_EXCLUSIVE, 1);
    ASSERT_GT(pid, 0);
    {
        Port busy;
        EXPECT_EQ(busy.open("null:k"), EBUSY) << "held exclusively by a live process";
    }
    nmtest::kill_child(pid);
    Port k, m, s;
    ASSERT_EQ(k.open("null:k", [](nmreq_register& r) { r.nr_flags = NR_EXCLUSIVE; }), 0)
        << "the dead process's exclusive hold is gone";
    ASSERT_EQ(m.open("ck{1", [](nmreq_register& r) { r.nr_flags = NR_EXCLUSIVE; }), 0);
    ASSERT_EQ(s.open("ck}1", [](nmreq_register& r) { r.nr_flags = NR_EXCLUSIVE; }), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 3) << "the dead process's bindings were reclaimed";
    // Both ends were gone with the dead process: this is a new pipe.
    ASSERT_EQ(s.rxsync(), 0);
    EXPECT_EQ(s.rx(0)->tail, 0u) << "frames of the dead pipe are gone with it";
    nmtest::put_frame(m.tx(0), 99, 7);
    ASSERT_EQ(m.txsync(), 0);
    ASSERT_EQ(s.rxsync(), 0);
    ASSERT_EQ(s.rx(0)->tail, 1u);
    EXPECT_TRUE(nmtest::frame_ok(s.rx(0), s.rx(0)->slot[0], 99, 7));
    nmtest::put_frame(k.tx(0), 60, 1);
    EXPECT_EQ(k.txsync(), 0);
    k.close();
    m.close();
    s.close();
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Crash, SurvivingPipeEndKeepsWorkingAndGetsANewPeer) {
    Port s;
    ASSERT_EQ(s.open("cs}1"), 0);
    const pid_t pid = start_holder({"cs{1"}, 0, 3);
    ASSERT_GT(pid, 0);
    nmtest::kill_child(pid);
    // The dead sender's frames are intact in the shared buffers.
    ASSERT_EQ(s.rxsync(), 0);
    ASSERT_EQ(s.rx(0)->tail, 3u);
    for (uint32_t f = 0; f < 3; f++) EXPECT_TRUE(nmtest::frame_ok(s.rx(0), s.rx(0)->slot[f], 60 + f, f));
    s.rx(0)->head = s.rx(0)->cur = 3;
    ASSERT_EQ(s.rxsync(), 0);
    // A new process takes the master end over.
    Port m;
    ASSERT_EQ(m.open("cs{1"), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 2);
    EXPECT_EQ(m.tx(0)->head, 3u) << "same pipe: the ring continues where the dead sender stopped";
    nmtest::put_frame(m.tx(0), 80, 8);
    ASSERT_EQ(m.txsync(), 0);
    ASSERT_EQ(s.rxsync(), 0);
    ASSERT_EQ(s.rx(0)->tail, 4u);
    EXPECT_TRUE(nmtest::frame_ok(s.rx(0), s.rx(0)->slot[3], 80, 8));
    s.close();
    m.close();
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Crash, NamesOfADeadProcessCanBeReusedWithoutExclusive) {
    const pid_t pid = start_holder({"null:r", "cr{2"}, 0, 0);
    ASSERT_GT(pid, 0);
    nmtest::kill_child(pid);
    Port a, b;
    ASSERT_EQ(a.open("null:r"), 0);
    ASSERT_EQ(b.open("cr}2"), 0);
    a.close();
    b.close();
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Crash, SeveralDeadProcessesAtOnce) {
    std::vector<pid_t> pids;
    for (int i = 0; i < 4; i++) {
        const std::string id = std::to_string(i);
        pids.push_back(start_holder({"null:many", "cm{" + id, "cm}" + id}, 0, 1));
        ASSERT_GT(pids.back(), 0);
    }
    EXPECT_EQ(nmtest::count_entries("b"), 12);
    for (pid_t p : pids) nmtest::kill_child(p);
    Port a;
    ASSERT_EQ(a.open("null:many"), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 1);
    a.close();
    EXPECT_TRUE(StateDirEmpty());
}

// Processes killed at random points of their control operations (maybe
// while holding the control lock or an allocator lock): the next control
// operation must not hang, and once it is done nothing may be left.
//
// A process killed inside do_register / null_create / pipe_create /
// new_port can leave a region entry with no port, a port with no binding,
// or a socket file with no binding; Registry::repair (run by the next
// locker when the previous holder died) must rebuild the counts and free
// all of it.
TEST_F(Crash, KilledAtRandomPointsWhileRegisteringAndClosing) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 12; round++) {
        const pid_t pid = nmtest::spawn_role("churn", {"30"});
        ASSERT_GT(pid, 0);
        sleep_ms(5 + rng() % 60);
        nmtest::kill_child(pid);
    }
    const double t0 = nmtest::now_s();
    Port a;
    ASSERT_EQ(a.open("null:after"), 0);
    EXPECT_LT(nmtest::now_s() - t0, 5.0);
    a.close();
    EXPECT_TRUE(StateDirEmpty()) << "state of killed processes leaked";
}

// "Once everyone closed, the state directory becomes empty": closing is a
// control operation too, and collects the dead process's bindings (and the
// port, region and ctl they pin).  Regression: only REGISTER used to.
TEST_F(Crash, DeadHolderReclaimedWhenTheSurvivorsClose) {
    Port mine;
    ASSERT_EQ(mine.open("null:d"), 0);
    const pid_t pid = start_holder({"null:d", "cd{1"}, 0, 1);
    ASSERT_GT(pid, 0);
    nmtest::kill_child(pid);
    mine.close();
    EXPECT_TRUE(StateDirEmpty());
}

// The last user of everything removes the control file: it marks it dead
// (under its lock), then unlinks it.  Killed in between
// (UNETMAP_CRASH_AT=ctl_remove:1), it leaves a dead file in place and its
// lock held.  The next process finishes the removal and goes on; it used
// to wait for the file to go and give up with EAGAIN after 2 s.
NMTEST_ROLE(last_user_killed_removing) {
    Port p;
    if (p.open("null:last")) return 2;
    p.close();  // the crash point kills it in here
    return 3;
}

TEST_F(Crash, LastUserKilledWhileRemovingTheControlFile) {
    ::setenv("UNETMAP_CRASH_AT", "ctl_remove:1", 1);  // read when the child's library loads
    const pid_t pid = nmtest::spawn_role("last_user_killed_removing");
    ::unsetenv("UNETMAP_CRASH_AT");
    ASSERT_GT(pid, 0);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "status " << st;
    const auto left = nmtest::state_entries();
    ASSERT_EQ(left, std::vector<std::string>{"ctl"});  // dead, not removed
    const double t0 = nmtest::now_s();
    Port a;
    ASSERT_EQ(a.open("null:after"), 0);
    EXPECT_LT(nmtest::now_s() - t0, 1.0);
    a.close();
    EXPECT_TRUE(StateDirEmpty());
}
