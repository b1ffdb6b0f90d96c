// Interfaces on VALE switches: `valectl -a valeS:IF` (NETMAP_REQ_VALE_ATTACH
// of an interface name), `-h` (with the host rings), `-d`.
//
// netmap moves frames between an attached NIC and its switch in the
// kernel.  unetmap has no kernel part and no daemon, so an attach starts a
// process of its own, the agent (src/agent/agent.c, installed as
// unetmap-vale-agent), which does what a netmap program bridging two ports
// would: it opens the NIC port ("netmap:IF", "netmap:IF*" with host rings)
// and the interface's member on the switch, a persistent VALE port named
// "valeS:IF" (and "valeS:IF^" for the host rings), and forwards both ways
// until it is told to stop or the interface goes away.
//
// The library starts the agent, not valectl: VALE_ATTACH is a request of
// the netmap API, so every program issuing it gets the same behaviour.  It
// is started detached from the caller: its own session (no controlling
// terminal), stdio on /dev/null (or $UNETMAP_AGENT_LOG), no descriptor of
// the caller but the handshake socket, and it forks once more so that it is
// not the caller's child (no zombie for the caller to reap, nothing for
// its SIGCHLD handler to see).
//
// State (the member port's NicAgent, vale.h), all under the control lock:
//   attach:  member port(s) created, NicAgent{kStarting, proc = the attaching
//            process}; lock released; agent started; it opens its ports and
//            reports; lock taken: NicAgent{kRunning, proc = the agent}; the
//            agent is told to go.  Any failure: the agent is killed, the
//            members removed, the errno returned (the agent's reason printed).
//   detach:  lock: look up the agent; unlock; SIGTERM it (pidfd, checked
//            against the recorded start time), wait, SIGKILL if it lingers;
//            lock: gc (its descriptors), remove the members if still there.
//            An agent stopping on its own (interface deleted, SIGTERM) issues
//            VALE_DETACH itself after closing its ports; the request sees
//            the caller is the agent and only removes the members.
//   dead:    an agent that is gone without detaching (SIGKILL) leaves its
//            members on the switch: a listing shows them ("no agent
//            running" with -v) until valectl -d removes them, as it
//            removes a live agent's.  An attach first removes every member
//            whose agent (or attaching process) is gone, so that attaching
//            the interface again just works.
#include "ctl/vale_nic.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent_proto.h"
#include "core/registry.h"
#include "core/syscalls.h"
#include "ports/vale.h"

extern char** environ;

namespace unetmap {
namespace vale {

namespace {

constexpr int kStartTimeoutMs = 10000;  // spawn to RESULT: opening an AF_XDP socket takes well under 1 s
constexpr int kStopGraceMs = 5000;      // SIGTERM to exit, before SIGKILL
constexpr int kKillWaitMs = 3000;       // SIGKILL to exit

int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// ---------------------------------------------------------------------------
// Processes, named by pid and start time
// ---------------------------------------------------------------------------

// State letter and start time (fields 3 and 22) of /proc/PID/stat.
bool read_stat(pid_t pid, char& state, uint64_t& start) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = sys::open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    sys::close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    // The command name (field 2) may hold spaces and ')': fields start
    // after its last ')'.
    const char* p = std::strrchr(buf, ')');
    if (!p || p[1] != ' ') return false;
    p += 2;
    state = *p;
    for (int field = 3; field < 22; field++) {
        p = std::strchr(p, ' ');
        if (!p) return false;
        p++;
    }
    char* end;
    start = std::strtoull(p, &end, 10);
    return end != p;
}

ProcRef proc_ref(pid_t pid) {
    ProcRef r{};
    char state;
    uint64_t start;
    if (pid > 0 && read_stat(pid, state, start) && state != 'Z' && state != 'X') {
        r.pid = pid;
        r.start = start;
    }
    return r;
}

bool proc_alive(const ProcRef& r) {
    if (r.pid <= 0) return false;
    const ProcRef now = proc_ref(r.pid);
    return now.pid == r.pid && now.start == r.start;
}

// A pidfd on a process recorded earlier: signals reach that process and no
// other, even if its pid has been reused since (the start time is checked
// after the pidfd is open).  Without pidfds (kernels before 5.3), kill()
// and polling /proc.
class Process {
public:
    explicit Process(const ProcRef& r) : ref_(r) {
        fd_ = static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0));
        if (!proc_alive(r)) gone_ = true;
    }
    ~Process() {
        if (fd_ >= 0) sys::close(fd_);
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    // 0, or the errno of the signal (EPERM: someone else's agent).
    int signal(int sig) {
        if (gone_) return 0;
        const long rc = fd_ >= 0 ? ::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0) : ::kill(ref_.pid, sig);
        if (rc == 0 || errno == ESRCH) return 0;
        return errno;
    }
    // Has it exited within `ms`?
    bool wait_exit(int ms) {
        const int64_t deadline = now_ms() + ms;
        while (!gone_) {
            const int64_t left = deadline - now_ms();
            if (left <= 0) return false;
            if (fd_ >= 0) {
                pollfd p{fd_, POLLIN, 0};  // readable once the process has exited
                if (sys::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) > 0) gone_ = true;
            } else {
                ::usleep(10000);
            }
            if (!proc_alive(ref_)) gone_ = true;
        }
        return true;
    }

private:
    ProcRef ref_;
    int fd_ = -1;
    bool gone_ = false;
};

// SIGTERM, then SIGKILL after `grace_ms`.  0 once it is gone.
int stop_process(const ProcRef& r, int grace_ms) {
    Process p(r);
    if (grace_ms > 0) {
        if (int e = p.signal(SIGTERM)) return e;
        if (p.wait_exit(grace_ms)) return 0;
    }
    if (int e = p.signal(SIGKILL)) return e;
    return p.wait_exit(kKillWaitMs) ? 0 : ETIMEDOUT;
}

// ---------------------------------------------------------------------------
// Starting the agent
// ---------------------------------------------------------------------------

// $UNETMAP_VALE_AGENT, else next to this library (a build tree), else where
// it is installed: relative to this library (an install moved elsewhere),
// then the configured path.
std::string agent_path() {
    if (const char* e = secure_getenv("UNETMAP_VALE_AGENT"); e && *e) return e;
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&agent_path), &info) && info.dli_fname) {
        const std::string lib = info.dli_fname;
        const size_t slash = lib.rfind('/');
        const std::string dir = slash == std::string::npos ? std::string(".") : lib.substr(0, slash);
        for (const std::string& p : {dir + "/" UNETMAP_AGENT_NAME, dir + "/" UNETMAP_LIB_TO_AGENT "/" UNETMAP_AGENT_NAME})
            if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return UNETMAP_LIBEXECDIR "/" UNETMAP_AGENT_NAME;
}

// One agent being started.  Unless handed over with release(), the agent
// is killed (and waited for) when this goes out of scope.
class AgentLaunch {
public:
    AgentLaunch() = default;
    ~AgentLaunch() {
        abort();
        if (sock_ >= 0) sys::close(sock_);
    }
    AgentLaunch(const AgentLaunch&) = delete;
    AgentLaunch& operator=(const AgentLaunch&) = delete;

    // Start the agent for member `full_name` and wait for its RESULT.
    // 0, or an errno with `why` saying what failed.
    int start(std::string_view full_name, std::string_view ifname, bool host, std::string& why);
    [[nodiscard]] const ProcRef& agent() const { return agent_; }
    // Let the agent forward.  0, or EPIPE if it is gone.
    int go() {
        const char g = UNETMAP_AGENT_GO;
        return ::send(sock_, &g, 1, MSG_NOSIGNAL) == 1 ? 0 : EPIPE;
    }
    void release() { released_ = true; }
    // Kill the agent (if it got that far) and wait until it is gone.
    void abort() {
        if (!released_ && agent_.pid > 0) (void)stop_process(agent_, 0);
        agent_ = ProcRef{};
    }

private:
    // Next message, within the deadline.  0, ETIMEDOUT, or EPIPE (agent gone).
    int receive(unetmap_agent_msg& m, int64_t deadline);

    int sock_ = -1;
    ProcRef agent_{};
    bool released_ = false;
};

int AgentLaunch::receive(unetmap_agent_msg& m, int64_t deadline) {
    for (;;) {
        const int64_t left = deadline - now_ms();
        if (left <= 0) return ETIMEDOUT;
        pollfd p{sock_, POLLIN, 0};
        const int n = sys::poll(&p, 1, static_cast<int>(left));
        if (n < 0 && errno != EINTR) return errno;
        if (n <= 0) continue;
        std::memset(&m, 0, sizeof m);
        const ssize_t got = ::recv(sock_, &m, sizeof m, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got != static_cast<ssize_t>(sizeof m)) return EPIPE;  // EOF: it exited
        m.text[sizeof m.text - 1] = '\0';
        return 0;
    }
}

int AgentLaunch::start(std::string_view full_name, std::string_view ifname, bool host, std::string& why) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        why = "socketpair failed";
        return errno;
    }
    sock_ = sv[0];
    const std::string path = agent_path();
    const char* log = secure_getenv("UNETMAP_AGENT_LOG");
    if (!log || !*log) log = "/dev/null";

    // The agent gets the handshake socket as UNETMAP_AGENT_FD and nothing
    // else of ours: a netmap descriptor of the caller kept open in the agent
    // would keep the caller's port alive after the caller closed it.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, sv[1], UNETMAP_AGENT_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, UNETMAP_AGENT_FD + 1);
    // A session of its own (no terminal, no job-control signals from the
    // caller's shell), an empty signal mask and default dispositions (the
    // caller may block or ignore signals the agent relies on).
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    const std::string member(full_name), ifn(ifname);
    const char* argv[] = {UNETMAP_AGENT_NAME, "-p", member.c_str(), "-i", ifn.c_str(), host ? "-H" : nullptr,
                          nullptr};
    pid_t child;
    const int se = ::posix_spawn(&child, path.c_str(), &fa, &attr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    sys::close(sv[1]);
    if (se != 0) {
        why = "cannot run " + path + ": " + std::strerror(se);
        return se;
    }

    // The child forks at once and exits; its child, the agent, says hello.
    const int64_t deadline = now_ms() + kStartTimeoutMs;
    unetmap_agent_msg m;
    int e = receive(m, deadline);
    if (e == 0 && (m.kind != UNETMAP_AGENT_HELLO || m.pid <= 0)) e = EPROTO;
    if (e) ::kill(child, SIGKILL);  // stuck before forking: it is our child, no pid reuse possible
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (e) {
        why = e == ETIMEDOUT ? "the agent did not start" : "the agent exited at once (see $UNETMAP_AGENT_LOG)";
        return e == EPIPE || e == EPROTO ? EIO : e;
    }
    agent_ = proc_ref(m.pid);
    if (agent_.pid <= 0) {
        why = "the agent exited at once";
        return EIO;
    }
    e = receive(m, deadline);
    if (e || m.kind != UNETMAP_AGENT_RESULT) {
        why = e == ETIMEDOUT ? "the agent did not open its ports in time" : "the agent died while opening its ports";
        return e == ETIMEDOUT ? ETIMEDOUT : EIO;
    }
    if (m.error) {
        why = m.text;
        return m.error > 0 ? m.error : EIO;
    }
    return 0;
}

// The agent's own VALE_DETACH, or another process's.
bool is_self(const ProcRef& r) { return r.pid == ::getpid() && proc_alive(r); }

}  // namespace

void reap_dead_agents(Registry& reg) {
    for_each_nic_member(reg, [&](uint32_t port, VPort& v) {
        if (!proc_alive(v.nic.proc)) nic_member_remove(reg, port);
    });
}

int32_t agent_pid(Registry& reg, uint32_t port) {
    VPort* v = vport_of(reg, port);
    if (!v || !(v->flags & VPort::kNic) || v->nic.state != NicAgent::kRunning) return 0;
    return proc_alive(v->nic.proc) ? v->nic.proc.pid : 0;
}

int attach_interface(std::string_view full_name, bool host, const PortShape& shape, uint32_t& member) {
    Registry& reg = Registry::get();
    const ProcRef me = proc_ref(::getpid());
    std::string_view sw_name, ifname;
    if (int e = split_name(full_name, sw_name, ifname)) return e;
    if (me.pid == 0) {  // agents are named by pid and start time, read from /proc
        std::fprintf(stderr, "unetmap: attaching %.*s: /proc is not mounted\n", static_cast<int>(full_name.size()),
                     full_name.data());
        return ENOSYS;
    }
    uint32_t port, gen;
    {
        CtlGuard g(reg, CtlGuard::kCollect);
        if (g.error()) return g.error();
        reap_dead_agents(reg);
        if (int e = nic_member_create(reg, full_name, host, shape, me, member, port)) return e;
        gen = reg.port(port).gen;
    }

    AgentLaunch launch;
    std::string why;
    int err = launch.start(full_name, ifname, host, why);
    if (!err) {
        CtlGuard g(reg);
        err = g.error();
        NicAgent* a = err ? nullptr : nic_agent(reg, port, gen);
        if (!err && (!a || a->state != NicAgent::kStarting || a->proc.pid != me.pid)) {
            err = ECANCELED;  // the members were removed meanwhile (a detach): give up
            why = "detached while starting";
        } else if (!err) {
            a->state = NicAgent::kRunning;
            a->proc = launch.agent();
            // Still under the lock: a detach that follows sees the agent.
            if ((err = launch.go()) != 0) why = "the agent died before forwarding";
        }
    }
    if (!err) {
        launch.release();
        return 0;
    }
    std::fprintf(stderr, "unetmap: attaching %.*s: %s\n", static_cast<int>(full_name.size()), full_name.data(),
                 why.c_str());
    // Kill the agent and wait until it is gone, then take the members away.
    // Its descriptors are released by gc, its XDP program by the kernel
    // when it died.
    launch.abort();
    CtlGuard g(reg, CtlGuard::kCollect);
    if (g.error()) return err;
    if (nic_agent(reg, port, gen)) nic_member_remove(reg, port);
    return err;
}

int detach_interface(std::string_view full_name, uint32_t& member, bool& handled) {
    Registry& reg = Registry::get();
    handled = false;
    ProcRef agent{};
    uint32_t port, gen;
    {
        CtlGuard g(reg, CtlGuard::kCollect);
        if (g.error()) return g.error();
        sweep(reg);
        port = nic_member_port(reg, full_name);
        if (port == kNone) return 0;  // not an interface (or not attached): the ordinary detach answers
        handled = true;
        const VPort& v = area(reg).vports[port];
        member = where_member(v.where.load(std::memory_order_relaxed));
        gen = reg.port(port).gen;
        // The agent leaving, or one that is gone (killed): only the members are left to remove.
        if (is_self(v.nic.proc) || !proc_alive(v.nic.proc)) {
            nic_member_remove(reg, port);
            return 0;
        }
        if (v.nic.state == NicAgent::kStarting) return EBUSY;  // an attach is under way
        agent = v.nic.proc;
    }
    // Not under the lock: the agent takes it to close its ports and detach.
    if (int e = stop_process(agent, kStopGraceMs)) return e;
    CtlGuard g(reg, CtlGuard::kCollect);  // the agent's descriptors
    if (g.error()) return g.error();
    if (nic_agent(reg, port, gen)) nic_member_remove(reg, port);
    return 0;
}

}  // namespace vale
}  // namespace unetmap
