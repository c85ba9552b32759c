// Test tool for tests/windows/cross_os_card_test.sh: "the same card on two PCs". Imports one
// RSA private key (PEM or DER; the key a SoftHSM2 token holds on Linux) into a NEW key
// container of Wine's software provider (MS_ENH_RSA_AES_PROV) as its AT_KEYEXCHANGE key, with
// the capi tests' own ImportRsaKey. Usage: capi_import_key KEY_FILE CONTAINER
// Exit 0 when imported; 1 with the error on stderr. Test only: product code never imports keys.
#include <iostream>
#include <string>

#include "core/env.h"
#include "tests/core/capi/capi_test_support.h"

namespace cardvault {
namespace {

Status Import(const std::string& key_file, const std::string& container) {
  CV_ASSIGN_OR_RETURN(Bytes key, ReadFileToBytes(*Env::Default(), key_file));
  return ImportRsaKey(TestProvider(), container, key);
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: capi_import_key KEY_FILE CONTAINER\n";
    return 2;
  }
  const cardvault::Status status = cardvault::Import(argv[1], argv[2]);
  if (!status.ok()) {
    std::cerr << "capi_import_key: " << status.message() << " [" << status.reason() << "]\n";
    return 1;
  }
  return 0;
}
