// nmctx: the library context (error reporting, allocation, locking of the
// list of mapped memory regions).  See include/libnetmap.h.
#include <libnetmap.h>

#include <pthread.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace {

void default_error(nmctx*, const char* msg) { std::fprintf(stderr, "%s\n", msg); }
void* default_malloc(nmctx*, size_t sz) { return std::malloc(sz); }
void default_free(nmctx*, void* p) { std::free(p); }

// Constant-initialised, so usable from any constructor regardless of order.
nmctx global_ctx = {
    /*verbose=*/1, default_error, default_malloc, default_free, /*lock=*/nullptr,
    /*mem_descs=*/nullptr,
};
nmctx* default_ctx = &global_ctx;

// The thread-safe default: a copy of the plain one plus a mutex.
struct LockedCtx {
    nmctx up;
    pthread_mutex_t mutex;
};
LockedCtx locked_ctx = {{}, PTHREAD_MUTEX_INITIALIZER};
bool locked_installed = false;

// Uses the one mutex whatever `ctx` is, so that a copy of the default
// context (a common way of changing just its error callback) still locks
// correctly instead of treating the copy as a LockedCtx.
void locked_lock(nmctx*, int lock) {
    if (lock)
        pthread_mutex_lock(&locked_ctx.mutex);
    else
        pthread_mutex_unlock(&locked_ctx.mutex);
}

__attribute__((constructor)) void install_threadsafe_default() { nmctx_set_threadsafe(); }

constexpr size_t kMaxErrMsg = 1000;

}  // namespace

extern "C" {

// Referenced by libnetmap_init() in the header; its only purpose upstream is
// to drag the pthread object into static links.
int nmctx_threadsafe;

struct nmctx* nmctx_get(void) { return default_ctx; }

struct nmctx* nmctx_set_default(struct nmctx* ctx) {
    nmctx* old = default_ctx;
    default_ctx = ctx;
    return old;
}

void nmctx_set_threadsafe(void) {
    if (locked_installed)
        return;
    locked_installed = true;
    nmctx* old = nmctx_set_default(&locked_ctx.up);
    locked_ctx.up = *old;
    locked_ctx.up.lock = locked_lock;
}

void nmctx_ferror(struct nmctx* ctx, const char* fmt, ...) {
    if (!ctx->verbose || ctx->error == nullptr)
        return;
    int saved_errno = errno;  // callers often set errno before reporting
    char msg[kMaxErrMsg];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        ctx->error(ctx, "internal error formatting an error message");
    else
        ctx->error(ctx, msg);  // truncated if longer than kMaxErrMsg - 1
    errno = saved_errno;
}

void* nmctx_malloc(struct nmctx* ctx, size_t sz) { return ctx->malloc(ctx, sz); }

void nmctx_free(struct nmctx* ctx, void* p) { ctx->free(ctx, p); }

void nmctx_lock(struct nmctx* ctx) {
    if (ctx->lock != nullptr)
        ctx->lock(ctx, 1);
}

void nmctx_unlock(struct nmctx* ctx) {
    if (ctx->lock != nullptr)
        ctx->lock(ctx, 0);
}

}  // extern "C"
