// GrowingFile: reads a file while another thread is still appending to it (a download being
// decrypted as it arrives).
#ifndef CARDVAULT_AGENT_GROWING_FILE_H_
#define CARDVAULT_AGENT_GROWING_FILE_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "core/env.h"

namespace cardvault {

// The reader's side is a SequentialFile from offset 0: Read returns bytes up to what the
// writer reported with Advance and waits for more until the writer calls Finish. After
// Finish(ok) Read returns 0 at the end; after Finish(error) it returns that error once the
// written bytes are consumed. Cancel() asks the writer to stop (it polls cancelled()).
// Thread-safe between one reader and one writer. The file MUST exist when Open is called.
class GrowingFile final : public SequentialFile {
 public:
  static StatusOr<std::unique_ptr<GrowingFile>> Open(const std::string& path, uint64_t written);
  ~GrowingFile() override;

  StatusOr<size_t> Read(std::span<uint8_t> buf) override;

  // Writer side.
  void Advance(uint64_t written);
  void Finish(Status status);
  bool cancelled() const;

  // Reader side.
  void Cancel();
  // The writer's final status; waits for Finish.
  Status WaitFinished();

 private:
  GrowingFile(int fd, std::string path, uint64_t written)
      : fd_(fd), path_(std::move(path)), written_(written) {}

  const int fd_;
  const std::string path_;
  uint64_t pos_ = 0;  // reader only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_;                // guarded by mu_
  std::optional<Status> finished_;  // guarded by mu_
  bool cancelled_ = false;          // guarded by mu_
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_GROWING_FILE_H_
