#include "client/userctl/table_output.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

constexpr size_t kColumns = 6;
using Row = std::array<std::string, kColumns>;

// Emails may hold UTF-8; counting code points rather than bytes keeps
// columns aligned for everything but double-width characters.
size_t DisplayWidth(absl::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

Row UserRow(const userservice::v1::User& user) {
  return {absl::StrCat(user.id()),
          user.username(),
          user.email(),
          absl::StrCat(user.version()),
          user.has_create_time() ? FormatTimestamp(user.create_time()) : "-",
          user.has_update_time() ? FormatTimestamp(user.update_time()) : "-"};
}

}  // namespace

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(timestamp.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatUserTable(
    const google::protobuf::RepeatedPtrField<userservice::v1::User>& users) {
  std::vector<Row> rows;
  rows.reserve(users.size() + 1);
  rows.push_back({"ID", "USERNAME", "EMAIL", "VERSION", "CREATED", "UPDATED"});
  for (const userservice::v1::User& user : users) rows.push_back(UserRow(user));

  std::array<size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (size_t column = 0; column < kColumns; ++column) {
      widths[column] = std::max(widths[column], DisplayWidth(row[column]));
    }
  }

  std::string table;
  for (const Row& row : rows) {
    for (size_t column = 0; column < kColumns; ++column) {
      absl::StrAppend(&table, row[column]);
      if (column + 1 < kColumns) {
        table.append(widths[column] - DisplayWidth(row[column]) + 2, ' ');
      }
    }
    table += '\n';
  }
  if (users.empty()) table += "(no users)\n";
  return table;
}

}  // namespace userctl
