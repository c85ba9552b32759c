// ConnectionLimiter: caps the server's open connections, in total and per client address.
#ifndef CARDVAULT_API_CONNECTION_LIMITER_H_
#define CARDVAULT_API_CONNECTION_LIMITER_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cardvault {

// Counts open connections. Admit() takes a slot for `address` when fewer than `max_total`
// connections are open and fewer than `max_per_address` from that address; the returned
// Slot gives it back when destroyed. Memory is bounded by max_total entries. Thread-safe;
// the limiter MUST outlive every Slot.
class ConnectionLimiter {
 public:
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();
    explicit operator bool() const { return limiter_ != nullptr; }

   private:
    friend class ConnectionLimiter;
    Slot(ConnectionLimiter* limiter, std::string address)
        : limiter_(limiter), address_(std::move(address)) {}
    ConnectionLimiter* limiter_ = nullptr;
    std::string address_;
  };

  ConnectionLimiter(size_t max_total, size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // An empty Slot when either limit is reached.
  Slot Admit(const std::string& address);
  size_t open() const;

 private:
  void Release(const std::string& address);

  const size_t max_total_;
  const size_t max_per_address_;
  mutable std::mutex mu_;
  size_t open_ = 0;
  std::unordered_map<std::string, size_t> per_address_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_CONNECTION_LIMITER_H_
