// ByteStore: where the bytes of object versions are kept (local files, an object store),
// under keys the store chooses. It knows nothing of users, ids or listings: the ObjectIndex
// records which key holds which version.
#ifndef CARDVAULT_STORAGE_BYTE_STORE_H_
#define CARDVAULT_STORAGE_BYTE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"

namespace cardvault {

// Bytes being written. Nothing is readable, and no key exists, until Commit returns OK;
// destroying the writer without a successful Commit removes whatever it wrote.
class ByteWriter {
 public:
  virtual ~ByteWriter() = default;
  virtual Status Append(ByteView data) = 0;
  // Makes the bytes durable (they survive a crash or power loss once it returns OK) and
  // returns their new key, never used before. Called at most once. Nothing refers to the
  // key yet: until an index records it, it is an orphan that a sweep may remove.
  virtual StatusOr<std::string> Commit() = 0;
};

// Stored bytes opened for reading. Committed bytes never change; once deleted, a reader
// opened before MAY fail.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // How many bytes were stored when they were opened.
  virtual uint64_t size() const = 0;
  // Reads up to buf.size() bytes at `offset` (a range read); 0 at or beyond the end, and
  // also where stored bytes were cut short after Open (the caller knows the size to expect).
  virtual StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) = 0;
};

// One key found by ForEach, with when its bytes were last written.
struct StoredKey {
  std::string key;
  int64_t modified_unix = 0;
};

// Implementations MUST be thread-safe, MUST validate keys before any use (a key that the
// store could not have chosen is kInvalidArgument "bad_byte_key", never a path or URL
// outside the store), and MUST NOT log the bytes.
class ByteStore {
 public:
  virtual ~ByteStore() = default;
  // Readiness (GET /v1/ready): one cheap request to where the bytes live that stores,
  // changes and reads no object. MUST return OK when the store can take and serve bytes now;
  // kPermissionDenied "object_store_denied" when it refuses the server's own credentials;
  // else kUnavailable "object_store_unavailable" (the message says what, for the log).
  virtual Status Probe() = 0;
  // Starts writing `size` bytes (a hint: a store MAY choose a different upload method by size).
  virtual StatusOr<std::unique_ptr<ByteWriter>> NewWriter(uint64_t size) = 0;
  // kNotFound if nothing is stored under `key`.
  virtual StatusOr<std::unique_ptr<ByteReader>> Open(std::string_view key) = 0;
  // Removes the bytes of `key`; OK if there are none.
  virtual Status Delete(std::string_view key) = 0;
  // Calls `fn` once for every committed key (any order), for a sweep of orphans. Stops at
  // the first error `fn` returns and returns it. Keys committed during the walk MAY be missed.
  virtual Status ForEach(const std::function<Status(const StoredKey&)>& fn) = 0;
  // Moves the bytes of `key` aside where Open never finds them, kept for an operator to
  // look at; OK if there are none.
  virtual Status Quarantine(std::string_view key) = 0;
  // Keeps `data` aside under `name` beside quarantined bytes (the bytes of a damaged object
  // that were kept in the index). `name` is the caller's: [0-9a-z.-] only.
  virtual Status QuarantineCopy(std::string_view name, ByteView data) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_BYTE_STORE_H_
