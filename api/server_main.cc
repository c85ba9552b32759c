// cardvault-server: the process set-up around RunServerCli (api/server_cli.h).
#include <sys/resource.h>
#include <sys/stat.h>

#include "api/server_cli.h"

int main(int argc, char** argv) {
  // Everything the server creates in its data directory is the owner's only: files 0600,
  // directories 0700 (tokens, index and blobs alike).
  ::umask(077);
  // Up to max_connections sockets plus files: use the hard limit of open files.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  return cardvault::RunServerCli(argc, argv);
}
