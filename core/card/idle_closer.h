// IdleCloser: closes a card identity's connection once it was unused for a while, so an
// unattended agent does not keep the card unlocked.
#ifndef CARDVAULT_CORE_CARD_IDLE_CLOSER_H_
#define CARDVAULT_CORE_CARD_IDLE_CLOSER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace cardvault {

// Shared by every backend's CardIdentity (core/card/card_identity.h). Contract:
// - `mu` is the identity's mutex. Used() MUST be called with it held; `has_connection` and
//   `close` are called with it held (by Used() and by the closer's thread).
// - After Used(), a zero `timeout` closes at once ("always ask for the PIN"); otherwise the
//   connection is closed once `timeout` passed without another Used(). The thread starts on
//   the first Used() that leaves a connection open.
// - The owner MUST declare the IdleCloser after the state `close` touches, so the closer is
//   destroyed (its thread stopped and joined) first; the destructor takes `mu`.
class IdleCloser {
 public:
  IdleCloser(std::mutex& mu, std::chrono::seconds timeout, std::function<bool()> has_connection,
             std::function<void()> close);
  ~IdleCloser();
  IdleCloser(const IdleCloser&) = delete;
  IdleCloser& operator=(const IdleCloser&) = delete;

  // Notes a use (the end of an Unwrap, whatever its outcome). `mu` held.
  void Used();

 private:
  void Loop();

  std::mutex& mu_;
  const std::chrono::seconds timeout_;
  const std::function<bool()> has_connection_;
  const std::function<void()> close_;
  std::condition_variable cv_;                       // with mu_
  std::chrono::steady_clock::time_point last_used_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_IDLE_CLOSER_H_
