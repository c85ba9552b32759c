// ConnectionLimiter implementation: counters under one mutex.
#include "api/connection_limiter.h"

#include <utility>

namespace cardvault {

ConnectionLimiter::Slot::Slot(Slot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), address_(std::move(other.address_)) {}

ConnectionLimiter::Slot& ConnectionLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (limiter_ != nullptr) limiter_->Release(address_);
    limiter_ = std::exchange(other.limiter_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

ConnectionLimiter::Slot::~Slot() {
  if (limiter_ != nullptr) limiter_->Release(address_);
}

ConnectionLimiter::Slot ConnectionLimiter::Admit(const std::string& address) {
  std::lock_guard lock(mu_);
  if (open_ >= max_total_) return Slot();
  size_t& mine = per_address_[address];
  if (mine >= max_per_address_) {
    if (mine == 0) per_address_.erase(address);
    return Slot();
  }
  ++mine;
  ++open_;
  return Slot(this, address);
}

size_t ConnectionLimiter::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

void ConnectionLimiter::Release(const std::string& address) {
  std::lock_guard lock(mu_);
  --open_;
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

}  // namespace cardvault
