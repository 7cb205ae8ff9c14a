// WAL write combining: an SQLite VFS over the default one ("unix") that turns
// the many small writes SQLite makes to a WAL file into one write per commit.
//
// SQLite's wal.c writes every frame as two writes, the 24-byte frame header
// and then the page, so a commit of 8 pages costs 16 pwrite64 syscalls on the
// db writer's critical path. A WAL file opened through this VFS keeps
// contiguous writes in memory (up to 128 KiB) and hands them to the base VFS in
// one xWrite once the commit frame is complete (a page per xWrite the first
// time a range of the file is written), or earlier, before anything
// could observe the file (a read, a sync, a truncate, a size, a lock change, a
// non-contiguous write, close). The database file and every other file are the
// base VFS's own; the database file only forwards xShmBarrier and the release
// of the WAL write lock to its connection's WAL buffer. Why this is as safe as
// writing through: "Flush points" in wal_write_combining_vfs.cc.
//
// Thread-safety: RegisterWalWriteCombiningVfs may be called from any thread.
// Each file opened through the VFS belongs to one connection and is used by
// whichever thread runs that connection, one call at a time (as SQLite uses
// any file).
#pragma once

#include "common/status.h"

namespace imgbatch::db {

inline constexpr char kWalWriteCombiningVfs[] = "imgbatch-wal-combining";

// Registers a write-combining VFS named `name` over the registered VFS `base`
// (nullptr: the default VFS), without making it the default; Ok at once if a
// VFS of that name is registered already. Connections choose it by name
// (sqlite3_open_v2's last argument). The registration lasts for the process.
Status RegisterWalWriteCombiningVfs(const char* name = kWalWriteCombiningVfs,
                                    const char* base = nullptr);

}  // namespace imgbatch::db
