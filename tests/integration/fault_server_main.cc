// cardvault-server-faults: the real cardvault-server (RunServerCli) with a fault wired into
// its store, for tests only (never installed). Its own options come first and are taken
// off before the server's:
//   --fail-puts N   the first N uploads that reach the store fail (answered 500 internal),
//                   so clients' retry paths meet a real server error.
//   --kill-at-migrate-progress N   `migrate` kills itself (SIGKILL) at its Nth progress
//                   point (1: users and tokens copied; then one per page of versions).
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "api/server_cli.h"

namespace cardvault {
namespace {

// Forwards everything to `inner`; BeginPut fails `failures` times first.
class FailingPutsStore final : public BlobStore {
 public:
  FailingPutsStore(BlobStore& inner, int failures) : inner_(inner), failures_left_(failures) {}

  StatusOr<std::unique_ptr<PendingPut>> BeginPut(std::string_view user, std::string_view id,
                                                 const PutOptions& options) override {
    if (failures_left_.fetch_sub(1) > 0) {
      return InternalError("upload failed: injected by cardvault-server-faults --fail-puts");
    }
    return inner_.BeginPut(user, id, options);
  }
  StatusOr<std::unique_ptr<BlobReader>> Open(std::string_view user, std::string_view id) override {
    return inner_.Open(user, id);
  }
  StatusOr<std::unique_ptr<BlobReader>> OpenPrefix(std::string_view user, std::string_view id,
                                                   uint64_t end) override {
    return inner_.OpenPrefix(user, id, end);
  }
  StatusOr<ObjectInfo> Head(std::string_view user, std::string_view id) override {
    return inner_.Head(user, id);
  }
  Status Delete(std::string_view user, std::string_view id) override {
    return inner_.Delete(user, id);
  }
  StatusOr<ListPage> List(std::string_view user, const ListOptions& options) override {
    return inner_.List(user, options);
  }
  StatusOr<uint64_t> UsedBytes(std::string_view user) override { return inner_.UsedBytes(user); }
  StatusOr<uint64_t> QuotaBytes(std::string_view user) override { return inner_.QuotaBytes(user); }

 private:
  BlobStore& inner_;
  std::atomic<int> failures_left_;
};

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) {
  ::umask(077);
  int fail_puts = 0;
  int kill_at_progress = 0;
  std::vector<char*> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fail-puts") == 0 && i + 1 < argc) {
      fail_puts = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--kill-at-migrate-progress") == 0 && i + 1 < argc) {
      kill_at_progress = std::atoi(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  cardvault::ServerCliHooks hooks;
  hooks.decorate_store = [fail_puts](cardvault::BlobStore& store) {
    return std::make_unique<cardvault::FailingPutsStore>(store, fail_puts);
  };
  hooks.on_migrate_progress = [kill_at_progress,
                               calls = 0](const cardvault::MigrationProgress&) mutable {
    if (++calls == kill_at_progress) ::raise(SIGKILL);
  };
  return cardvault::RunServerCli(static_cast<int>(args.size()), args.data(), hooks);
}
