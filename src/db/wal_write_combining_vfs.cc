#include "db/wal_write_combining_vfs.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace imgbatch::db {
namespace {

// Flush points. A WAL write SQLite has been told succeeded may sit in the
// buffer until one of these, each of which hands the whole buffer to the base
// VFS first, in one xWrite (a page at a time where this handle writes the
// file for the first time; WriteRange says why):
//  - The page write that completes a commit frame (a frame header whose
//    "database size after commit" field is non-zero; WAL format:
//    https://sqlite.org/fileformat2.html#walformat). wal.c writes every frame
//    of a commit, commit frame last, before it publishes the commit in the
//    wal-index header (walFrames -> walIndexWriteHdr), so the commit's frames
//    are in the file (the kernel's page cache) before any other connection can
//    know of them, and a failed write is this xWrite's error: the COMMIT fails
//    as if the base VFS had failed, nothing is published.
//    A commit frame header that does not follow the previous write
//    (walRewriteChecksums rewriting the headers of frames the transaction
//    overwrote in place; the first commit after an open or a rollback) is
//    written through at once, with its page flushed when it follows, so
//    nothing of a commit ever waits for a later call.
//  - xRead, xFileSize, xTruncate, xSync, xLock, xUnlock, xFileControl and
//    xFetch of the WAL, a write not contiguous with the buffer's end, a full
//    buffer (kMaxBufferedBytes), xClose: every path by which this connection
//    reads WAL content back goes through xRead (sqlite3WalReadFrame,
//    walCheckpoint, walIndexRecover, walRewriteChecksums), so it reads what
//    it wrote, e.g. the frames a cache spill (walFrames without a commit)
//    left in the buffer. xSync flushes first, so synchronous=FULL syncs every
//    frame, and checkpoints sync the WAL before copying it.
//  - xShmBarrier on the database file, which wal.c calls between the two
//    copies of the wal-index header it writes to publish a commit: a second
//    line of defence (the commit frame has flushed already). It cannot
//    return an error; a failure there fails every later call of the WAL.
//  - The release of the WAL write lock (xShmLock on the database file): the
//    transaction is over. A committed one has flushed already; what is left
//    belongs to one that rolled back, which no reader can see, and is written
//    before the next writer can take the lock and reuse its offsets.
// Durability is unchanged: nothing is acknowledged before the WAL is synced
// (the db syncer's fdatasync runs after COMMIT returned, i.e. after the
// commit frame's flush; xSync flushes first), and a kill -9 before a flush
// loses only frames no reader could see and no caller was told of (an
// uncommitted transaction, as if the process had died before writing it).
//
// Errors. A failed flush included writes SQLite believes done (frames of its
// open transaction): the WAL file then fails every call that could build on
// them (reads, writes, syncs, size, truncate) with that error until the write
// transaction ends (the write lock's release), so the transaction can only
// roll back; it can never commit with a hole. A write passed straight through
// fails alone, as with the base VFS.

// WAL layout (https://sqlite.org/fileformat2.html#walformat): a 32-byte
// header, then frames of a 24-byte header and one page; bytes 4..7 of a
// frame header are the database size after a commit, zero in other frames.
constexpr sqlite3_int64 kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;
// At most this much waits in memory per WAL; a larger commit flushes as it
// goes (31 frames of 4 KiB pages per write). Not more: the unix VFS writes at
// most 128 KiB - 1 bytes per xWrite (os_unix.c seekAndWriteFd masks the
// length with 0x1ffff; SQLite itself never writes more than a 64 KiB page)
// and reports the rest as SQLITE_FULL.
constexpr size_t kMaxBufferedBytes = 0x1ffff;
// wal.c's WAL_WRITE_LOCK: the first wal-index lock slot.
constexpr int kWalWriteLockSlot = 0;

// The kernel's page size: the unit of the page cache.
sqlite3_int64 PageBytes() {
  static const sqlite3_int64 bytes = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
  return bytes;
}

bool IsCommitFrameHeader(const void* data, int amt, sqlite3_int64 offset) {
  if (amt != kFrameHeaderBytes || offset < kWalHeaderBytes) return false;
  const auto* bytes = static_cast<const unsigned char*>(data);
  return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

// The writes to one WAL file handle that have not reached the base file: the
// contiguous bytes [start_, start_ + bytes_.size()).
class WalWriteBuffer {
 public:
  explicit WalWriteBuffer(sqlite3_file* real) : real_(real) {}

  int Write(const void* data, int amt, sqlite3_int64 offset) {
    if (error_ != SQLITE_OK) return error_;
    if (commit_page_offset_ >= 0) {
      const bool commit_page = offset == commit_page_offset_;
      commit_page_offset_ = -1;
      if (commit_page) return WriteCommitPage(data, amt, offset);
      // Not the page wal.c writes after every frame header: never let the
      // commit header wait.
      if (int rc = Flush(); rc != SQLITE_OK) return rc;
    }
    const bool commit_header = IsCommitFrameHeader(data, amt, offset);
    if (commit_header && offset != last_write_end_) {
      if (int rc = Flush(); rc != SQLITE_OK) return rc;
      int rc = WriteThrough(data, amt, offset);
      if (rc == SQLITE_OK) commit_page_offset_ = offset + amt;
      return rc;
    }
    if (!Appends(amt, offset)) {
      if (int rc = Flush(); rc != SQLITE_OK) return rc;
    }
    if (static_cast<size_t>(amt) > kMaxBufferedBytes) return WriteThrough(data, amt, offset);
    Append(data, amt, offset);
    if (commit_header) commit_page_offset_ = offset + amt;
    return SQLITE_OK;
  }

  // Hands what is buffered to the base file in one write. A failure keeps
  // failing (see "Errors").
  int Flush() {
    if (error_ != SQLITE_OK) return error_;
    if (bytes_.empty()) return SQLITE_OK;
    const int rc = WriteRange(bytes_.data(), static_cast<int>(bytes_.size()), start_);
    bytes_.clear();
    if (rc != SQLITE_OK) {
      error_ = rc;
      commit_page_offset_ = -1;
    }
    return rc;
  }

  // The connection released the WAL write lock: its transaction committed
  // (nothing left here) or rolled back (flushed anyway, before another writer
  // can reuse the offsets; an error is of no consequence, no one will read
  // those frames). Clears a failure.
  void EndWriteTransaction() {
    (void)Flush();
    bytes_.clear();
    commit_page_offset_ = -1;
    error_ = SQLITE_OK;
  }

 private:
  bool Appends(int amt, sqlite3_int64 offset) const {
    return !bytes_.empty() && offset == start_ + static_cast<sqlite3_int64>(bytes_.size()) &&
           bytes_.size() + static_cast<size_t>(amt) <= kMaxBufferedBytes;
  }

  void Append(const void* data, int amt, sqlite3_int64 offset) {
    if (bytes_.empty()) {
      start_ = offset;
      if (bytes_.capacity() == 0) bytes_.reserve(kMaxBufferedBytes);
    }
    const auto* p = static_cast<const unsigned char*>(data);
    bytes_.insert(bytes_.end(), p, p + amt);
    last_write_end_ = offset + amt;
  }

  // The page of a commit frame: the commit's frames go to the file now.
  int WriteCommitPage(const void* data, int amt, sqlite3_int64 offset) {
    if (Appends(amt, offset)) {
      Append(data, amt, offset);
      return Flush();
    }
    if (int rc = Flush(); rc != SQLITE_OK) return rc;
    return WriteThrough(data, amt, offset);
  }

  int WriteThrough(const void* data, int amt, sqlite3_int64 offset) {
    last_write_end_ = offset + amt;
    return WriteRange(data, amt, offset);
  }

  // One xWrite for the part of the range this handle has written before;
  // the part it has not, one xWrite per page of the page cache. Why: Linux
  // (ext4 since 6.16) gives the page cache of a region a large write creates
  // large folios, up to the write's size. The WAL is reused from its start
  // after a checkpoint, and the commits of the next pass end at other
  // offsets: a commit ending inside a 64 KiB folio left it dirty again
  // after its sync, so the next commit's sync wrote all of it again (+32%
  // bytes to the disk per message in bench/queue/run.sh). Written a page at
  // a time, the WAL's first pass leaves single-page folios (SQLite's own
  // writes, 24 bytes and a page, did the same).
  int WriteRange(const void* data, int amt, sqlite3_int64 offset) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    const sqlite3_int64 end = offset + amt;
    sqlite3_int64 at = offset;
    if (at < written_end_) {
      const sqlite3_int64 known_end = std::min(end, written_end_);
      const int rc = real_->pMethods->xWrite(real_, bytes, static_cast<int>(known_end - at), at);
      if (rc != SQLITE_OK) return rc;
      at = known_end;
    }
    while (at < end) {
      const sqlite3_int64 page_end = std::min(end, (at / PageBytes() + 1) * PageBytes());
      const int rc = real_->pMethods->xWrite(real_, bytes + (at - offset),
                                             static_cast<int>(page_end - at), at);
      if (rc != SQLITE_OK) return rc;
      at = page_end;
      written_end_ = at;
    }
    return SQLITE_OK;
  }

  sqlite3_file* const real_;
  std::vector<unsigned char> bytes_;
  sqlite3_int64 start_ = 0;
  // Where the previous write ended (-1: none yet): wal.c appends frames
  // back to back, so a commit header anywhere else is a rewrite.
  sqlite3_int64 last_write_end_ = -1;
  // Where the page of the commit frame whose header was just written goes
  // (-1: none pending).
  sqlite3_int64 commit_page_offset_ = -1;
  int error_ = SQLITE_OK;
  // The end of the range of the file this handle has written (see
  // WriteRange).
  sqlite3_int64 written_end_ = 0;
};

// The sqlite3_file SQLite allocates for a main database or WAL file of this
// VFS (szOsFile bytes): ours, then the base VFS's file.
struct ShimFile {
  sqlite3_file io;     // what SQLite sees: pMethods is kDbMethods or kWalMethods
  sqlite3_file* real;  // the base VFS's file, in the same allocation
  // WAL file: its buffer (owned). Null for a database file.
  WalWriteBuffer* buffer;
  // Database file: its connection's WAL while open; WAL file: its
  // connection's database file (null if that is not one of ours).
  ShimFile* peer;
};

constexpr int kRealFileOffset =
    static_cast<int>((sizeof(ShimFile) + alignof(std::max_align_t) - 1) /
                     alignof(std::max_align_t) * alignof(std::max_align_t));

ShimFile* Shim(sqlite3_file* file) { return reinterpret_cast<ShimFile*>(file); }
sqlite3_file* Real(sqlite3_file* file) { return Shim(file)->real; }
const sqlite3_io_methods& RealMethods(sqlite3_file* file) { return *Real(file)->pMethods; }
sqlite3_vfs* Base(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// ---- methods both kinds of file forward unchanged ----

int ForwardWrite(sqlite3_file* f, const void* data, int amt, sqlite3_int64 offset) {
  return RealMethods(f).xWrite(Real(f), data, amt, offset);
}
int ForwardRead(sqlite3_file* f, void* out, int amt, sqlite3_int64 offset) {
  return RealMethods(f).xRead(Real(f), out, amt, offset);
}
int ForwardTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return RealMethods(f).xTruncate(Real(f), size);
}
int ForwardSync(sqlite3_file* f, int flags) { return RealMethods(f).xSync(Real(f), flags); }
int ForwardFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return RealMethods(f).xFileSize(Real(f), size);
}
int ForwardLock(sqlite3_file* f, int level) { return RealMethods(f).xLock(Real(f), level); }
int ForwardUnlock(sqlite3_file* f, int level) { return RealMethods(f).xUnlock(Real(f), level); }
int ForwardCheckReservedLock(sqlite3_file* f, int* out) {
  return RealMethods(f).xCheckReservedLock(Real(f), out);
}
int ForwardFileControl(sqlite3_file* f, int op, void* arg) {
  return RealMethods(f).xFileControl(Real(f), op, arg);
}
int ForwardSectorSize(sqlite3_file* f) { return RealMethods(f).xSectorSize(Real(f)); }
int ForwardDeviceCharacteristics(sqlite3_file* f) {
  return RealMethods(f).xDeviceCharacteristics(Real(f));
}
int ForwardShmMap(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion < 2 || m.xShmMap == nullptr) return SQLITE_IOERR_SHMMAP;
  return m.xShmMap(Real(f), page, page_size, extend, out);
}
int ForwardShmLock(sqlite3_file* f, int offset, int n, int flags) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion < 2 || m.xShmLock == nullptr) return SQLITE_IOERR_SHMLOCK;
  return m.xShmLock(Real(f), offset, n, flags);
}
void ForwardShmBarrier(sqlite3_file* f) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion >= 2 && m.xShmBarrier != nullptr) m.xShmBarrier(Real(f));
}
int ForwardShmUnmap(sqlite3_file* f, int delete_flag) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion < 2 || m.xShmUnmap == nullptr) return SQLITE_OK;
  return m.xShmUnmap(Real(f), delete_flag);
}
int ForwardFetch(sqlite3_file* f, sqlite3_int64 offset, int amt, void** out) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion < 3 || m.xFetch == nullptr) {
    *out = nullptr;  // "no mapping": SQLite reads with xRead instead
    return SQLITE_OK;
  }
  return m.xFetch(Real(f), offset, amt, out);
}
int ForwardUnfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  const sqlite3_io_methods& m = RealMethods(f);
  if (m.iVersion < 3 || m.xUnfetch == nullptr) return SQLITE_OK;
  return m.xUnfetch(Real(f), offset, p);
}

// ---- the main database file ----

int DbClose(sqlite3_file* f) {
  ShimFile* db = Shim(f);
  if (db->peer != nullptr) db->peer->peer = nullptr;
  db->peer = nullptr;
  return RealMethods(f).xClose(Real(f));
}

// wal.c publishes a commit with this barrier between the two copies of the
// wal-index header; the commit frame has flushed already (see "Flush
// points"). A failure here fails the WAL's next call.
void DbShmBarrier(sqlite3_file* f) {
  ShimFile* db = Shim(f);
  if (db->peer != nullptr) (void)db->peer->buffer->Flush();
  ForwardShmBarrier(f);
}

int DbShmLock(sqlite3_file* f, int offset, int n, int flags) {
  ShimFile* db = Shim(f);
  const bool releases_write_lock = (flags & SQLITE_SHM_UNLOCK) != 0 &&
                                   (flags & SQLITE_SHM_EXCLUSIVE) != 0 &&
                                   offset <= kWalWriteLockSlot && kWalWriteLockSlot < offset + n;
  if (releases_write_lock && db->peer != nullptr) db->peer->buffer->EndWriteTransaction();
  return ForwardShmLock(f, offset, n, flags);
}

const sqlite3_io_methods kDbMethods = {
    3,
    DbClose,
    ForwardRead,
    ForwardWrite,
    ForwardTruncate,
    ForwardSync,
    ForwardFileSize,
    ForwardLock,
    ForwardUnlock,
    ForwardCheckReservedLock,
    ForwardFileControl,
    ForwardSectorSize,
    ForwardDeviceCharacteristics,
    ForwardShmMap,
    DbShmLock,
    DbShmBarrier,
    ForwardShmUnmap,
    ForwardFetch,
    ForwardUnfetch,
};

// ---- the WAL file: every method that could observe the file flushes first ----

WalWriteBuffer& Buffer(sqlite3_file* f) { return *Shim(f)->buffer; }

int WalClose(sqlite3_file* f) {
  ShimFile* wal = Shim(f);
  const int flushed = wal->buffer->Flush();
  if (wal->peer != nullptr) wal->peer->peer = nullptr;
  wal->peer = nullptr;
  delete wal->buffer;
  wal->buffer = nullptr;
  const int closed = RealMethods(f).xClose(Real(f));
  return flushed != SQLITE_OK ? flushed : closed;
}

int WalWrite(sqlite3_file* f, const void* data, int amt, sqlite3_int64 offset) {
  return Buffer(f).Write(data, amt, offset);
}

// The base file's method `Forward`, after a flush of the buffer (whose
// error, if any, is the call's).
template <auto Forward>
struct FlushFirst;
template <class... Args, int (*Forward)(sqlite3_file*, Args...)>
struct FlushFirst<Forward> {
  static int Call(sqlite3_file* f, Args... args) {
    if (int rc = Buffer(f).Flush(); rc != SQLITE_OK) return rc;
    return Forward(f, args...);
  }
};

const sqlite3_io_methods kWalMethods = {
    3,
    WalClose,
    FlushFirst<ForwardRead>::Call,
    WalWrite,
    FlushFirst<ForwardTruncate>::Call,
    FlushFirst<ForwardSync>::Call,
    FlushFirst<ForwardFileSize>::Call,
    FlushFirst<ForwardLock>::Call,
    FlushFirst<ForwardUnlock>::Call,
    ForwardCheckReservedLock,
    FlushFirst<ForwardFileControl>::Call,
    ForwardSectorSize,
    ForwardDeviceCharacteristics,
    ForwardShmMap,
    ForwardShmLock,
    ForwardShmBarrier,
    ForwardShmUnmap,
    FlushFirst<ForwardFetch>::Call,
    ForwardUnfetch,
};

// ---- the VFS ----

int ShimOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
             int* out_flags) {
  sqlite3_vfs* base = Base(vfs);
  const bool is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!is_wal && (flags & SQLITE_OPEN_MAIN_DB) == 0) {
    // Journals, temp files: the base VFS's own file (szOsFile leaves room).
    return base->xOpen(base, name, file, flags, out_flags);
  }
  ShimFile* shim = Shim(file);
  std::memset(shim, 0, sizeof(ShimFile));
  shim->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealFileOffset);
  std::memset(shim->real, 0, static_cast<size_t>(base->szOsFile));
  int rc = base->xOpen(base, name, shim->real, flags, out_flags);
  if (rc == SQLITE_OK && is_wal) {
    shim->buffer = new (std::nothrow) WalWriteBuffer(shim->real);
    if (shim->buffer == nullptr) rc = SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) {
    // SQLite closes only a file whose pMethods is set; ours stays unset.
    if (shim->real->pMethods != nullptr) shim->real->pMethods->xClose(shim->real);
    shim->io.pMethods = nullptr;
    return rc;
  }
  if (is_wal) {
    // The database file of the same connection (pager), whose xShmBarrier
    // and write-lock release must reach this WAL's buffer.
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db != nullptr && db->pMethods == &kDbMethods) {
      shim->peer = Shim(db);
      Shim(db)->peer = shim;
    }
    shim->io.pMethods = &kWalMethods;
  } else {
    shim->io.pMethods = &kDbMethods;
  }
  return SQLITE_OK;
}

int ShimDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Base(vfs)->xDelete(Base(vfs), name, sync_dir);
}
int ShimAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Base(vfs)->xAccess(Base(vfs), name, flags, out);
}
int ShimFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Base(vfs)->xFullPathname(Base(vfs), name, n, out);
}
void* ShimDlOpen(sqlite3_vfs* vfs, const char* name) { return Base(vfs)->xDlOpen(Base(vfs), name); }
void ShimDlError(sqlite3_vfs* vfs, int n, char* out) { Base(vfs)->xDlError(Base(vfs), n, out); }
void (*ShimDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Base(vfs)->xDlSym(Base(vfs), handle, symbol);
}
void ShimDlClose(sqlite3_vfs* vfs, void* handle) { Base(vfs)->xDlClose(Base(vfs), handle); }
int ShimRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xRandomness(Base(vfs), n, out);
}
int ShimSleep(sqlite3_vfs* vfs, int micros) { return Base(vfs)->xSleep(Base(vfs), micros); }
int ShimCurrentTime(sqlite3_vfs* vfs, double* out) {
  return Base(vfs)->xCurrentTime(Base(vfs), out);
}
int ShimGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xGetLastError(Base(vfs), n, out);
}
int ShimCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Base(vfs)->xCurrentTimeInt64(Base(vfs), out);
}
int ShimSetSystemCall(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
  return Base(vfs)->xSetSystemCall(Base(vfs), name, call);
}
sqlite3_syscall_ptr ShimGetSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xGetSystemCall(Base(vfs), name);
}
const char* ShimNextSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xNextSystemCall(Base(vfs), name);
}

struct RegisteredVfs {
  sqlite3_vfs vfs;  // first: the address SQLite keeps is the allocation's
  std::string name;
};

}  // namespace

Status RegisterWalWriteCombiningVfs(const char* name, const char* base_name) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (sqlite3_vfs_find(name) != nullptr) return Status::Ok();
  sqlite3_vfs* base = sqlite3_vfs_find(base_name);
  if (base == nullptr) {
    return Internal(std::string("no SQLite VFS named ") + (base_name ? base_name : "(default)"));
  }
  if (base->iVersion < 3) return Internal(std::string("SQLite VFS too old: ") + base->zName);
  // Registered for the life of the process: SQLite keeps the pointer (and
  // the name with it: one allocation, reachable from SQLite's VFS list).
  auto* registered = new RegisteredVfs{sqlite3_vfs{}, std::string(name)};
  sqlite3_vfs* vfs = &registered->vfs;
  vfs->iVersion = 3;
  vfs->szOsFile = kRealFileOffset + base->szOsFile;
  vfs->mxPathname = base->mxPathname;
  vfs->zName = registered->name.c_str();
  vfs->pAppData = base;
  vfs->xOpen = ShimOpen;
  vfs->xDelete = ShimDelete;
  vfs->xAccess = ShimAccess;
  vfs->xFullPathname = ShimFullPathname;
  vfs->xDlOpen = ShimDlOpen;
  vfs->xDlError = ShimDlError;
  vfs->xDlSym = ShimDlSym;
  vfs->xDlClose = ShimDlClose;
  vfs->xRandomness = ShimRandomness;
  vfs->xSleep = ShimSleep;
  vfs->xCurrentTime = ShimCurrentTime;
  vfs->xGetLastError = ShimGetLastError;
  vfs->xCurrentTimeInt64 = ShimCurrentTimeInt64;
  vfs->xSetSystemCall = ShimSetSystemCall;
  vfs->xGetSystemCall = ShimGetSystemCall;
  vfs->xNextSystemCall = ShimNextSystemCall;
  const int rc = sqlite3_vfs_register(vfs, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    delete registered;
    return Internal(std::string("registering SQLite VFS ") + name + ": " + sqlite3_errstr(rc));
  }
  return Status::Ok();
}

}  // namespace imgbatch::db
