// FaultInjectionEnv: an Env for tests that fails chosen writes, renames or fsyncs, or
// reports the disk full after a byte budget, so callers' error paths can be exercised.
#ifndef CARDVAULT_CORE_FAULT_INJECTION_ENV_H_
#define CARDVAULT_CORE_FAULT_INJECTION_ENV_H_

#include <atomic>
#include <cstdint>
#include <limits>

#include "core/env.h"

namespace cardvault {

// Thread-safe. Counts every write (Append or WriteAt), rename and sync (file or directory)
// made through it; the Nth of a kind (1-based) can be made to fail with an I/O error, and
// writes beyond a total byte budget fail with ENOSPC ("disk_full"), writing nothing.
// Zero means "never fail".
class FaultInjectionEnv : public EnvWrapper {
 public:
  explicit FaultInjectionEnv(Env* target) : EnvWrapper(target) {}

  void FailNthWrite(uint64_t n) { fail_write_at_ = n; }
  void FailNthRename(uint64_t n) { fail_rename_at_ = n; }
  void FailNthSync(uint64_t n) { fail_sync_at_ = n; }
  // After `bytes` more bytes have been written through this Env, writes fail as disk full.
  void SetDiskFullAfter(uint64_t bytes) { bytes_left_ = bytes; }
  void ClearFaults();

  uint64_t writes() const { return writes_; }
  uint64_t renames() const { return renames_; }
  uint64_t syncs() const { return syncs_; }
  uint64_t bytes_written() const { return bytes_written_; }

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                          uint32_t mode) override;
  StatusOr<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path,
                                                             uint64_t keep) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status RenameInside(const std::string& from, const std::string& root,
                      const std::string& rel) override;
  Status SyncDir(const std::string& path) override;
  Status SyncFileSystem(const std::string& path) override;

  // Used by the files this Env hands out.
  Status BeforeWrite(const std::string& path, uint64_t size);
  Status BeforeSync(const std::string& path);

 private:
  // Counts a rename; the injected fault when it is the chosen one.
  Status CountRename(const std::string& from);

  std::atomic<uint64_t> fail_write_at_{0}, fail_rename_at_{0}, fail_sync_at_{0};
  std::atomic<uint64_t> bytes_left_{std::numeric_limits<uint64_t>::max()};
  std::atomic<uint64_t> writes_{0}, renames_{0}, syncs_{0}, bytes_written_{0};
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_FAULT_INJECTION_ENV_H_
