// NewLocalJobLock: a set of running job names under a mutex.
#include "storage/job_lock.h"

#include <mutex>
#include <set>
#include <string>

namespace cardvault {
namespace {

class LocalJobLock final : public JobLock {
 public:
  StatusOr<bool> RunExclusive(std::string_view name, const std::function<Status()>& job) override {
    {
      std::lock_guard lock(mu_);
      if (!running_.insert(std::string(name)).second) return false;
    }
    Status status = job();
    {
      std::lock_guard lock(mu_);
      running_.erase(std::string(name));
    }
    CV_RETURN_IF_ERROR(status);
    return true;
  }

 private:
  std::mutex mu_;
  std::set<std::string> running_;
};

}  // namespace

std::unique_ptr<JobLock> NewLocalJobLock() { return std::make_unique<LocalJobLock>(); }

}  // namespace cardvault
