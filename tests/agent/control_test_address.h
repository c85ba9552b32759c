// Where a control test's agent listens: a socket in the test's temporary directory, or a
// pipe with a unique name on Windows (control_unix_test.cc, control_windows_test.cc).
#ifndef CARDVAULT_TESTS_AGENT_CONTROL_TEST_ADDRESS_H_
#define CARDVAULT_TESTS_AGENT_CONTROL_TEST_ADDRESS_H_

#include <string>

namespace cardvault {

// A fresh control address for a test whose temporary directory is `dir`.
std::string ControlTestAddress(const std::string& dir);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_AGENT_CONTROL_TEST_ADDRESS_H_
