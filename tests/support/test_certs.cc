#include "tests/support/test_certs.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/process.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {

absl::Status MakeTestCertificates(const std::string& dir) {
  CommandResult result = RunCommand(
      {"/bin/bash", SourceDir() + "/tests/support/make_test_certs.sh", dir},
      absl::Seconds(60));
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        "make_test_certs.sh failed (", result.exit_code, "): ", result.err));
  }
  return absl::OkStatus();
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) return absl::InternalError("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError("cannot rename " + temporary + " to " + path);
  }
  return absl::OkStatus();
}

}  // namespace userservice::testing
