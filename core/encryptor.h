// Encryption of one plaintext into a cardvault blob (format v1 or v2), streaming, in
// constant memory, with a fresh file key per blob wrapped to every recipient.
#ifndef CARDVAULT_CORE_ENCRYPTOR_H_
#define CARDVAULT_CORE_ENCRYPTOR_H_

#include <optional>
#include <span>
#include <string>

#include "core/env.h"
#include "core/format.h"
#include "core/recipient.h"

namespace cardvault {

struct EncryptOptions {
  // When set, taken as the plaintext's SHA-256 without hashing again (the caller hashed
  // the same bytes already); otherwise the hash is computed while encrypting.
  std::optional<Sha256Digest> content_sha256;
  // Source of the file key and payload nonce; Env::Default() when null. Tests pass a
  // deterministic Env to produce fixed vectors.
  Env* env = nullptr;
  // EncryptFile only: false leaves the fsyncs of the new file and its directory to the
  // caller, who makes a batch of files durable at once (Env::SyncFileSystem) before
  // relying on any of them.
  bool sync = true;
  // The blob version to write. v1 (the default) puts the content hash in the header, so the
  // header is written last (WriteAt). v2 seals it in a trailer and writes the blob front to
  // back (Append only), so it can be sent while it is being written; it needs the size of
  // the plaintext up front (metadata.size) and fails with kFailedPrecondition
  // "source_changed" as soon as the source yields more, or at the end fewer, bytes.
  uint16_t version = format::kVersion1;
  // EncryptFileTo and EncryptFile: the metadata's `recorded` entry (when the caller recorded
  // this version of the file; docs/format.md). EncryptStream takes it in its metadata.
  std::optional<int64_t> recorded_ns;
};

// Encrypts everything `source` yields into `sink`, which MUST be empty and, for v1, MUST
// support WriteAt (the header is written last, once the size and hash are known). The
// returned metadata is `metadata` with `size` and `sha256` set from the bytes actually read.
// Uses about 3 MiB of memory whatever the size. On error the sink holds garbage: discard it.
StatusOr<format::Metadata> EncryptStream(SequentialFile& source, WritableFile& sink,
                                         std::span<Recipient* const> recipients,
                                         format::Metadata metadata,
                                         const EncryptOptions& options = {});

// Encrypts the file `in_path` into `sink` (empty; WriteAt for v1, as for EncryptStream):
// metadata.path as given, mtime and mode (and, for v2, the size promised) from the file.
// Returns the metadata written. On error the sink holds garbage: discard it.
StatusOr<format::Metadata> EncryptFileTo(Env& env, const std::string& in_path, WritableFile& sink,
                                         std::span<Recipient* const> recipients,
                                         const std::string& relative_path,
                                         const EncryptOptions& options = {});

// Encrypts the file `in_path` into `out_path` as EncryptFileTo does: writes a temporary
// file beside `out_path`, syncs it (unless options.sync is false) and renames it into
// place, so `out_path` is either absent or complete. Returns the metadata written.
StatusOr<format::Metadata> EncryptFile(Env& env, const std::string& in_path,
                                       const std::string& out_path,
                                       std::span<Recipient* const> recipients,
                                       const std::string& relative_path,
                                       const EncryptOptions& options = {});

}  // namespace cardvault

#endif  // CARDVAULT_CORE_ENCRYPTOR_H_
