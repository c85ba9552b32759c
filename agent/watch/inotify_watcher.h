// InotifyWatcher: the Linux Watcher, one inotify watch per directory of the tree.
#ifndef CARDVAULT_AGENT_WATCH_INOTIFY_WATCHER_H_
#define CARDVAULT_AGENT_WATCH_INOTIFY_WATCHER_H_

#include <map>
#include <memory>
#include <string>

#include "agent/watch/ignore_rules.h"
#include "agent/watch/watcher.h"

struct inotify_event;

namespace cardvault {

class InotifyWatcher final : public Watcher {
 public:
  // Watches `root` recursively. Fails if `root` is not a readable directory or the
  // inotify watch limit is reached (the message names fs.inotify.max_user_watches).
  static StatusOr<std::unique_ptr<InotifyWatcher>> New(const std::string& root, IgnoreRules rules);
  ~InotifyWatcher() override;

  StatusOr<std::vector<WatchEvent>> Poll(int timeout_ms) override;
  void Wake() override;

  size_t watch_count() const { return dirs_.size(); }

 private:
  InotifyWatcher(std::string root, IgnoreRules rules, int inotify_fd, int wake_fd)
      : root_(std::move(root)), rules_(std::move(rules)), fd_(inotify_fd), wake_fd_(wake_fd) {}
  // Watches `rel` and every directory below it; reports them (but the root) and their files
  // as kAppeared when `report_files`.
  Status AddTree(const std::string& rel, bool report_files, std::vector<WatchEvent>& out);
  void Translate(const ::inotify_event& e, std::vector<WatchEvent>& out);

  std::string root_;
  IgnoreRules rules_;
  int fd_;
  int wake_fd_;
  std::map<int, std::string> dirs_;  // watch descriptor -> relative directory
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_INOTIFY_WATCHER_H_
