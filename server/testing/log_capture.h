#ifndef USERSERVICE_SERVER_TESTING_LOG_CAPTURE_H_
#define USERSERVICE_SERVER_TESTING_LOG_CAPTURE_H_

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/common/log.h"

namespace userservice::log {

// For tests: sends log lines to a temporary file for the lifetime of the
// object, then back to stderr.
class LogCapture {
 public:
  LogCapture() {
    char path[] = "/tmp/log_capture_XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    SetOutputFd(fd_);
  }
  ~LogCapture() {
    SetOutputFd(STDERR_FILENO);
    close(fd_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string Text() const {
    std::string out;
    char buffer[4096];
    off_t offset = 0;
    ssize_t n;
    while ((n = pread(fd_, buffer, sizeof(buffer), offset)) > 0) {
      out.append(buffer, static_cast<size_t>(n));
      offset += n;
    }
    return out;
  }

  std::vector<std::string> Lines() const {
    return absl::StrSplit(Text(), '\n', absl::SkipEmpty());
  }

 private:
  int fd_ = -1;
};

}  // namespace userservice::log

#endif  // USERSERVICE_SERVER_TESTING_LOG_CAPTURE_H_
