// Private files: the server's data directory is readable by its owner only.
#ifndef CARDVAULT_STORAGE_PRIVATE_FILES_H_
#define CARDVAULT_STORAGE_PRIVATE_FILES_H_

#include <string>

#include "core/status.h"

namespace cardvault {

// Creates the SQLite database file `path` with mode 0600 if it is missing, and sets 0600 on
// it and on its "-wal", "-shm" and "-journal" files if they exist with another mode. Call it
// before SQLite opens the file: SQLite gives the files it creates beside a database the
// database's mode, whatever the umask. Never follows a symlink at `path`.
Status MakeDatabaseFilePrivate(const std::string& path);

// Sets mode 0700 on `dir` and every directory under it and 0600 on every regular file under
// it, without following symlinks. The files inside the blob shards (blobs/xx/) are skipped:
// the store creates them 0600, and there may be millions of them. For the data directory
// at the server's start, so files written by older versions are private too.
Status MakeDataDirPrivate(const std::string& dir);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PRIVATE_FILES_H_
