// The REST client the tests talk to a local cardvault-server with: its certificate pinned by
// SHA-256 fingerprint, a 10 s read timeout. Client code only, so Windows tests use it too.
#pragma once

#include <memory>
#include <string>

#include "api/remote_store.h"
#include "core/secret_data.h"

namespace cardvault {

inline std::unique_ptr<RemoteStore> PinnedTestClient(int port, const std::string& fingerprint,
                                                     const std::string& token) {
  RemoteStoreOptions options;
  options.port = port;
  options.pinned_sha256 = fingerprint;
  options.token = SecretData::CopyFrom(token);
  options.read_timeout_seconds = 10;
  return RemoteStore::New(std::move(options)).value();
}

}  // namespace cardvault
