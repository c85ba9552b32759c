// InotifyWatcher implementation: inotify plus an eventfd for waking, read with poll(2).
#include "agent/watch/inotify_watcher.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cardvault {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW |
                           IN_EXCL_UNLINK;

std::string Join(const std::string& dir, const char* name) {
  return dir.empty() ? std::string(name) : dir + "/" + name;
}

}  // namespace

StatusOr<std::unique_ptr<InotifyWatcher>> InotifyWatcher::New(const std::string& root,
                                                              IgnoreRules rules) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return ErrnoToStatus(errno, "watch", root);
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError(root + " is not a directory");
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "inotify_init1 for", root);
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "eventfd for", root);
  }
  std::unique_ptr<InotifyWatcher> w(new InotifyWatcher(root, std::move(rules), fd, wake));
  std::vector<WatchEvent> ignored;
  CV_RETURN_IF_ERROR(w->AddTree("", false, ignored));
  return w;
}

InotifyWatcher::~InotifyWatcher() {
  ::close(fd_);
  ::close(wake_fd_);
}

void InotifyWatcher::Wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
}

Status InotifyWatcher::AddTree(const std::string& rel, bool report_files,
                               std::vector<WatchEvent>& out) {
  std::string dir = rel.empty() ? root_ : root_ + "/" + rel;
  int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOSPC) {
      return ResourceExhaustedError(
          "the inotify watch limit is reached while watching " + dir +
              "; raise it with: sysctl fs.inotify.max_user_watches=524288",
          "inotify_limit");
    }
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();  // gone or replaced
    return ErrnoToStatus(errno, "inotify_add_watch", dir);
  }
  dirs_[wd] = rel;  // a directory moved within the tree keeps its wd: update its path
  if (report_files && !rel.empty()) out.push_back({WatchEvent::Kind::kAppeared, rel, true});
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::Ok();
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    std::string child = Join(rel, e->d_name);
    if (rules_.IsIgnored(child)) continue;
    struct stat st;
    if (::lstat((root_ + "/" + child).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(child);
    } else if (report_files) {
      out.push_back({WatchEvent::Kind::kAppeared, child, false});
    }
  }
  ::closedir(d);
  for (const std::string& s : subdirs) CV_RETURN_IF_ERROR(AddTree(s, report_files, out));
  return Status::Ok();
}

void InotifyWatcher::Translate(const ::inotify_event& e, std::vector<WatchEvent>& out) {
  if (e.mask & IN_Q_OVERFLOW) {
    out.push_back({WatchEvent::Kind::kRescan, "", false});
    return;
  }
  auto it = dirs_.find(e.wd);
  if (it == dirs_.end()) return;
  if (e.mask & IN_IGNORED) {
    dirs_.erase(it);
    return;
  }
  if (e.len == 0 || e.name[0] == '\0') return;  // an event on the directory itself
  const std::string path = Join(it->second, e.name);
  if (rules_.IsIgnored(path)) return;
  const bool is_dir = (e.mask & IN_ISDIR) != 0;
  if (is_dir) {
    if (e.mask & (IN_CREATE | IN_MOVED_TO)) {
      Status s = AddTree(path, true, out);
      if (!s.ok()) out.push_back({WatchEvent::Kind::kRescan, "", false});
    } else if (e.mask & (IN_DELETE | IN_MOVED_FROM)) {
      out.push_back({WatchEvent::Kind::kRemoved, path, true});
    } else if (e.mask & IN_ATTRIB) {
      out.push_back({WatchEvent::Kind::kAppeared, path, true});  // its mode may have changed
    }
    return;
  }
  if (e.mask & (IN_DELETE | IN_MOVED_FROM)) {
    out.push_back({WatchEvent::Kind::kRemoved, path, false});
  } else if (e.mask & IN_CLOSE_WRITE) {
    out.push_back({WatchEvent::Kind::kClosed, path, false});
  } else if (e.mask & (IN_CREATE | IN_MODIFY)) {
    out.push_back({WatchEvent::Kind::kModified, path, false});
  } else if (e.mask & (IN_MOVED_TO | IN_ATTRIB)) {
    out.push_back({WatchEvent::Kind::kAppeared, path, false});
  }
}

StatusOr<std::vector<WatchEvent>> InotifyWatcher::Poll(int timeout_ms) {
  struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int rc = ::poll(fds, 2, timeout_ms);
  if (rc < 0 && errno != EINTR) return ErrnoToStatus(errno, "poll", root_);
  std::vector<WatchEvent> out;
  if (fds[1].revents & POLLIN) {
    uint64_t v;
    ssize_t n = ::read(wake_fd_, &v, sizeof v);
    (void)n;
  }
  alignas(struct inotify_event) char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return ErrnoToStatus(errno, "read inotify events for", root_);
    }
    if (n == 0) break;
    for (char* p = buf; p < buf + n;) {
      const auto* e = reinterpret_cast<const struct inotify_event*>(p);
      Translate(*e, out);
      p += sizeof(struct inotify_event) + e->len;
    }
  }
  return out;
}

StatusOr<std::unique_ptr<Watcher>> NewPlatformWatcher(const std::string& root, IgnoreRules rules) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<InotifyWatcher> w,
                      InotifyWatcher::New(root, std::move(rules)));
  return std::unique_ptr<Watcher>(std::move(w));
}

}  // namespace cardvault
