// WASI preview1 (`wasi_snapshot_preview1`) numbers and struct layouts, as in the witx spec
// (WebAssembly/WASI, legacy/preview1/witx/typenames.witx). Everything is little-endian and
// laid out for wasm32.
#pragma once

#include <cstdint>

namespace nnb::wasm::wasi {

// errno
inline constexpr uint16_t kSuccess = 0;
inline constexpr uint16_t k2Big = 1;
inline constexpr uint16_t kAcces = 2;
inline constexpr uint16_t kAgain = 6;
inline constexpr uint16_t kBadf = 8;
inline constexpr uint16_t kBusy = 10;
inline constexpr uint16_t kExist = 20;
inline constexpr uint16_t kFault = 21;
inline constexpr uint16_t kFbig = 22;
inline constexpr uint16_t kIlseq = 25;
inline constexpr uint16_t kIntr = 27;
inline constexpr uint16_t kInval = 28;
inline constexpr uint16_t kIo = 29;
inline constexpr uint16_t kIsdir = 31;
inline constexpr uint16_t kLoop = 32;
inline constexpr uint16_t kMfile = 33;
inline constexpr uint16_t kMlink = 34;
inline constexpr uint16_t kNametoolong = 37;
inline constexpr uint16_t kNfile = 41;
inline constexpr uint16_t kNodev = 43;
inline constexpr uint16_t kNoent = 44;
inline constexpr uint16_t kNomem = 48;
inline constexpr uint16_t kNospc = 51;
inline constexpr uint16_t kNosys = 52;
inline constexpr uint16_t kNotdir = 54;
inline constexpr uint16_t kNotempty = 55;
inline constexpr uint16_t kNotsup = 58;
inline constexpr uint16_t kNotty = 59;
inline constexpr uint16_t kNxio = 60;
inline constexpr uint16_t kOverflow = 61;
inline constexpr uint16_t kPerm = 63;
inline constexpr uint16_t kPipe = 64;
inline constexpr uint16_t kRange = 68;
inline constexpr uint16_t kRofs = 69;
inline constexpr uint16_t kSpipe = 70;
inline constexpr uint16_t kTxtbsy = 74;
inline constexpr uint16_t kXdev = 75;
inline constexpr uint16_t kNotcapable = 76;

// filetype
inline constexpr uint8_t kFtUnknown = 0;
inline constexpr uint8_t kFtBlockDevice = 1;
inline constexpr uint8_t kFtCharacterDevice = 2;
inline constexpr uint8_t kFtDirectory = 3;
inline constexpr uint8_t kFtRegularFile = 4;
inline constexpr uint8_t kFtSocketDgram = 5;
inline constexpr uint8_t kFtSocketStream = 6;
inline constexpr uint8_t kFtSymbolicLink = 7;

// fdflags
inline constexpr uint16_t kFdflagAppend = 1, kFdflagDsync = 2, kFdflagNonblock = 4, kFdflagRsync = 8,
                          kFdflagSync = 16;
// oflags
inline constexpr uint16_t kOflagCreat = 1, kOflagDirectory = 2, kOflagExcl = 4, kOflagTrunc = 8;
// lookupflags
inline constexpr uint32_t kLookupSymlinkFollow = 1;
// fstflags
inline constexpr uint16_t kFstAtim = 1, kFstAtimNow = 2, kFstMtim = 4, kFstMtimNow = 8;
// whence
inline constexpr uint8_t kWhenceSet = 0, kWhenceCur = 1, kWhenceEnd = 2;
// clockid
inline constexpr uint32_t kClockRealtime = 0, kClockMonotonic = 1, kClockProcessCputime = 2, kClockThreadCputime = 3;
// eventtype
inline constexpr uint8_t kEventClock = 0, kEventFdRead = 1, kEventFdWrite = 2;
// subclockflags / eventrwflags
inline constexpr uint16_t kSubclockAbstime = 1, kEventFdReadwriteHangup = 1;
// preopentype
inline constexpr uint8_t kPreopenDir = 0;

// rights (bit numbers from the witx `rights` flags)
inline constexpr uint64_t kRightFdDatasync = 1ull << 0, kRightFdRead = 1ull << 1, kRightFdSeek = 1ull << 2,
                          kRightFdFdstatSetFlags = 1ull << 3, kRightFdSync = 1ull << 4, kRightFdTell = 1ull << 5,
                          kRightFdWrite = 1ull << 6, kRightFdAdvise = 1ull << 7, kRightFdAllocate = 1ull << 8,
                          kRightPathCreateDirectory = 1ull << 9, kRightPathCreateFile = 1ull << 10,
                          kRightPathLinkSource = 1ull << 11, kRightPathLinkTarget = 1ull << 12,
                          kRightPathOpen = 1ull << 13, kRightFdReaddir = 1ull << 14,
                          kRightPathReadlink = 1ull << 15, kRightPathRenameSource = 1ull << 16,
                          kRightPathRenameTarget = 1ull << 17, kRightPathFilestatGet = 1ull << 18,
                          kRightPathFilestatSetSize = 1ull << 19, kRightPathFilestatSetTimes = 1ull << 20,
                          kRightFdFilestatGet = 1ull << 21, kRightFdFilestatSetSize = 1ull << 22,
                          kRightFdFilestatSetTimes = 1ull << 23, kRightPathSymlink = 1ull << 24,
                          kRightPathRemoveDirectory = 1ull << 25, kRightPathUnlinkFile = 1ull << 26,
                          kRightPollFdReadwrite = 1ull << 27, kRightSockShutdown = 1ull << 28,
                          kRightSockAccept = 1ull << 29;
inline constexpr uint64_t kRightsAll = (1ull << 30) - 1;
// What a regular file can do, and what a directory can do, at most.
inline constexpr uint64_t kRightsFile = kRightFdDatasync | kRightFdRead | kRightFdSeek | kRightFdFdstatSetFlags |
                                        kRightFdSync | kRightFdTell | kRightFdWrite | kRightFdAdvise |
                                        kRightFdAllocate | kRightFdFilestatGet | kRightFdFilestatSetSize |
                                        kRightFdFilestatSetTimes | kRightPollFdReadwrite;
inline constexpr uint64_t kRightsDirectory =
    kRightFdFdstatSetFlags | kRightFdSync | kRightFdAdvise | kRightPathCreateDirectory | kRightPathCreateFile |
    kRightPathLinkSource | kRightPathLinkTarget | kRightPathOpen | kRightFdReaddir | kRightPathReadlink |
    kRightPathRenameSource | kRightPathRenameTarget | kRightPathFilestatGet | kRightPathFilestatSetSize |
    kRightPathFilestatSetTimes | kRightFdFilestatGet | kRightFdFilestatSetTimes | kRightPathSymlink |
    kRightPathRemoveDirectory | kRightPathUnlinkFile | kRightPollFdReadwrite;
// A terminal or pipe: no seek/tell (wasi-libc's isatty() checks exactly that).
inline constexpr uint64_t kRightsStream = kRightFdRead | kRightFdWrite | kRightFdFdstatSetFlags |
                                          kRightFdFilestatGet | kRightPollFdReadwrite | kRightFdSync |
                                          kRightFdDatasync | kRightFdAdvise;

// Struct sizes and field offsets.
inline constexpr uint32_t kIovecSize = 8;         // {u32 buf, u32 buf_len}
inline constexpr uint32_t kFdstatSize = 24;       // u8 filetype @0, u16 flags @2, u64 base @8, u64 inh @16
inline constexpr uint32_t kFilestatSize = 64;     // dev @0 ino @8 filetype(u8) @16 nlink @24 size @32 atim @40 mtim @48 ctim @56
inline constexpr uint32_t kPrestatSize = 8;       // u8 tag @0, u32 name_len @4
inline constexpr uint32_t kDirentSize = 24;       // d_next @0, d_ino @8, u32 d_namlen @16, u8 d_type @20
inline constexpr uint32_t kSubscriptionSize = 48; // userdata @0, u8 tag @8, clock{id @16 timeout @24 precision @32 flags @40} / fd @16
inline constexpr uint32_t kEventSize = 32;        // userdata @0, u16 error @8, u8 type @10, nbytes @16, u16 flags @24

}  // namespace nnb::wasm::wasi
