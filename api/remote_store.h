// RemoteStore: ObjectClient over HTTPS (httplib::SSLClient) with mandatory verification.
#ifndef CARDVAULT_API_REMOTE_STORE_H_
#define CARDVAULT_API_REMOTE_STORE_H_

#include <memory>
#include <mutex>
#include <string>

#include "api/object_client.h"
#include "core/secret_data.h"

namespace httplib {
class SSLClient;
}

namespace cardvault {

struct RemoteStoreOptions {
  std::string host = "127.0.0.1";
  int port = 8443;
  // Exactly one of these MUST be set; there is no way to turn verification off.
  std::string ca_file;        // verify the chain and the host name against this CA bundle
  std::string pinned_sha256;  // accept only the leaf certificate with this SHA-256 (hex)
  SecretData token;           // the bearer token ("cvt_...")
  int connect_timeout_seconds = 10;
  int read_timeout_seconds = 60;
  int write_timeout_seconds = 60;
};

// One keep-alive HTTPS connection to a cardvault server (TLS 1.2 minimum), reopened
// before a request when the server closed it while idle. Uploads stream
// from the source and downloads into the sink in 256 KiB pieces: memory use does not
// depend on object sizes. Retries are not done here (see RetryingObjectClient).
// Thread-safe: requests are serialized on the one connection; use several RemoteStores
// for parallel transfers. New() sets SIGPIPE to SIG_IGN for the whole process.
class RemoteStore final : public ObjectClient {
 public:
  // kInvalidArgument ("no_verification") unless exactly one of ca_file / pinned_sha256.
  static StatusOr<std::unique_ptr<RemoteStore>> New(RemoteStoreOptions options);
  ~RemoteStore() override;

  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& options,
                           const SourceFactory& source) override;
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& options,
                           const ByteSink& sink) override;
  StatusOr<ObjectInfo> Head(std::string_view id) override;
  Status Delete(std::string_view id) override;
  StatusOr<ListPage> List(const ListOptions& options) override;
  StatusOr<std::string> WhoAmI() override;

  // Health check without authentication. If `date` is given, it receives the answer's Date
  // header (the server's clock, IMF-fixdate), empty when there is none.
  Status Health(std::string* date = nullptr);

  // Internal: the pinned fingerprint, reachable from OpenSSL's verify callback.
  struct PinState;

 private:
  RemoteStore() = default;
  // Before a large upload: the server can only refuse a body it has not read by closing
  // the connection, which looks like a network error. So check the limits first:
  // kResourceExhausted "object_too_large" / "quota_exceeded" as the server would answer.
  Status CheckLimits(std::string_view id, uint64_t size);
  // Before each request (mu_ held): closes the kept-alive connection if the server has
  // closed it meanwhile (after its keep-alive timeout), so the request opens a fresh one
  // instead of failing on the dead one.
  void DropClosedConnection();

  std::mutex mu_;
  RemoteStoreOptions options_;
  std::unique_ptr<PinState> pin_;
  std::unique_ptr<httplib::SSLClient> client_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_REMOTE_STORE_H_
