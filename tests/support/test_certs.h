#ifndef USERSERVICE_TESTS_SUPPORT_TEST_CERTS_H_
#define USERSERVICE_TESTS_SUPPORT_TEST_CERTS_H_

#include <string>

#include "absl/status/status.h"

namespace userservice::testing {

// Runs tests/support/make_test_certs.sh into `dir`: a CA, server leaves for
// localhost/127.0.0.1, a client leaf and an untrusted CA with its own
// client (see the script for the file names). Made at test time, never
// committed.
absl::Status MakeTestCertificates(const std::string& dir);

// The whole file, or an empty string if it cannot be read.
std::string ReadWholeFile(const std::string& path);

// Writes `contents` to `path` through a temporary file and a rename, so a
// reader sees the old or the new contents, never a mix.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents);

}  // namespace userservice::testing

#endif  // USERSERVICE_TESTS_SUPPORT_TEST_CERTS_H_
