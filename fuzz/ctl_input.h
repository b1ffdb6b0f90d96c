// Input layout of fuzz_ctl_request and fuzz_legacy_nmreq (shared with
// make_corpus.cpp, which writes valid seeds in this layout).
//
// fuzz_ctl_request:
//   CtlPrefix                      8 bytes: where each pointer goes, chain length, flags
//   struct nmreq_header            88 bytes, raw (nr_options / nr_body are replaced)
//   body                           kBodyBytes raw bytes
//   options                        nopts x kOptBytes raw bytes (nro_next replaced)
// Missing bytes read as zero.
//
// fuzz_legacy_nmreq:
//   LegacyPrefix                   4 bytes
//   struct nmreq                   raw
#pragma once

#include <cstdint>

namespace fuzz {

constexpr unsigned kBodyBytes = 256;
constexpr unsigned kOptBytes = 64;     // nmreq_option (24) + payload
constexpr unsigned kMaxFuzzOpts = 40;  // more than the library's limit (32)

struct CtlPrefix {
    uint8_t hdr_mode;   // PtrMode of the header itself (% kNumPtrModes)
    uint8_t body_mode;  // PtrMode of nr_body
    uint8_t opt_mode;   // 0: chain; 1: no options; 2: last -> wild (PtrMode in opt_wild);
                        // 3: last -> first (loop); 4: last -> itself; 5: raw nro_next kept
    uint8_t nopts;      // % (kMaxFuzzOpts + 1)
    uint8_t opt_wild;   // PtrMode for opt_mode 2
    uint8_t flags;      // kKeepRegistered, kSyncAfter, kReopenBefore
    uint8_t pad[2];
};
constexpr uint8_t kKeepRegistered = 1;  // don't reopen after a successful REGISTER (bounded)
constexpr uint8_t kSyncAfter = 2;       // after a successful REGISTER: TX/RX sync and poll(0)
constexpr uint8_t kReopenBefore = 4;    // fresh descriptor before the request

struct LegacyPrefix {
    uint8_t ptr_mode;  // PtrMode of the struct nmreq pointer
    uint8_t cmd;       // 0,1: NIOCREGIF; 2,3: NIOCGINFO; 4: NIOCCONFIG; 5: FIONBIO; 6: other
    uint8_t flags;     // as CtlPrefix::flags
    uint8_t pad;
};

}  // namespace fuzz
