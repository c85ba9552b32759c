// Test helper: everything a user holds on a cardvault-server, decrypted with the card's
// identity through core's decryptor (independently of the agent's Restorer).
#ifndef CARDVAULT_TESTS_INTEGRATION_SERVER_CONTENTS_H_
#define CARDVAULT_TESTS_INTEGRATION_SERVER_CONTENTS_H_

#include <map>
#include <string>
#include <vector>

#include "api/object_client.h"
#include "core/format.h"
#include "core/identity.h"

namespace cardvault {

// One blob on the server: its metadata and its content.
struct ServerVersion {
  format::Metadata metadata;
  std::string content;
};

// Every blob of the user behind `client`, opened through the key objects with `card`
// (every page of both listings), grouped by path in listing order. A blob that does not
// fetch, open or decrypt is a test failure (gtest EXPECT) and is left out.
std::map<std::string, std::vector<ServerVersion>> ServerVersionsByPath(ObjectClient& client,
                                                                       Identity& card);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_SERVER_CONTENTS_H_
