// Hostile and broken clients against the real user_server on the test
// cluster, black box: malformed requests on every method (random bytes,
// mutated valid messages, invalid UTF-8 and odd code points in every string
// field, extreme numbers, oversized messages and metadata), thousands of
// connections that never finish the HTTP/2 handshake, and a client that
// opens streams and never reads, while a well-formed client creates and
// reads beside them. The server must answer every call, write nothing it
// did not accept, log no client's mistake as an error, and keep its log,
// memory and descriptors within the bounds below.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/grpc.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using Rng = std::mt19937_64;

// The run is the same every time for one seed (ABUSE_SEED overrides it, to
// explore); the seed is printed with the summary.
constexpr uint64_t kDefaultSeed = 15;

// Malformed calls per method of each kind, sent over kGarbageChannels
// connections with kWindow calls in flight on each. Garbage that parses
// reaches the database; the calls in flight are kept well below the
// primary's pool (--pool-size 16), so that this stays a test of bad input
// and not of overload, which would fail the well-formed client's writes
// with RESOURCE_EXHAUSTED after --pool-acquire-timeout.
constexpr int kRandomCallsPerMethod = 1400;
constexpr int kMutatedCallsPerMethod = 2200;
constexpr int kGarbageChannels = 4;
constexpr int kWindow = 8;
// Every call has this deadline; a call still unanswered then counts as a
// hang. It is far above any answer the server should need: the slowest are
// creates batched with garbage that collides with an existing user, which
// the server retries in halves.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);

// Connections that never send a byte, and connections that send half the
// HTTP/2 client preface, each (fewer if the descriptor limit is low).
constexpr int kHeldConnectionsPerKind = 2000;
// The server's handshake limit, passed as --handshake-timeout when it has
// the flag; connections are given this much more before the test says they
// were kept open.
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(5);
constexpr absl::Duration kHandshakeMargin = absl::Seconds(10);
// Raw HTTP/2 connections that open streams and never read their answers,
// and how long they are held.
constexpr int kNeverReadingConnections = 4;
constexpr int kStreamsPerNeverReadingConnection = 200;
constexpr absl::Duration kNeverReadingHold = absl::Seconds(10);

// Log. Failed calls' access lines and warnings are limited to
// --failure-log-limit (20) a second per method and code, and library lines
// caused by requests must be limited like them (per source location); a
// limiter's one-second window may straddle two calendar seconds, so no kind
// of line may appear more than twice the limit in any second (give or take
// a line stamped a moment after it was admitted). With every kind limited,
// the whole log of this run is a fraction of the byte bound.
constexpr int kMaxLinesPerKindAndSecond = 2 * 20 + 2;
constexpr int64_t kMaxLogBytes = 4 << 20;
// Memory. Connections that never finish their handshake, streams whose
// answers are never read and malformed calls in flight (some near the 1 MiB
// limit) cost the server memory while they last; the bound on the peak is
// about twice what they take together. Freed memory is kept for reuse, not
// returned, so RSS stays near its peak afterwards; a leak shows instead as
// growth in a second round of a third of the same garbage, and 3 KiB per
// call would exceed that bound.
constexpr int64_t kMaxRssGrowthKib = 320 << 10;
constexpr int64_t kMaxRssSecondRoundKib = 32 << 10;
// Descriptors must return to their baseline within this once the clients
// are gone (the server sees each close at once).
constexpr absl::Duration kFdSettleTimeout = absl::Seconds(20);
// Database connections may grow up to --pool-size (16) per endpoint under
// the well-formed client's and the garbage's reads, plus a session for
// KILL QUERY each.
constexpr int kMaxExtraDatabaseSockets = 4 * (16 + 2);

// Ids at or above this exist in no test cluster; garbage that parses as an
// update or delete of an id below it (which might be the well-formed
// client's user) is not sent.
constexpr uint64_t kFarIdFloor = uint64_t{1} << 30;
constexpr uint64_t kFarId = 4000000007ull;
constexpr int64_t kFarVersion = 1000000007;

// ---------------------------------------------------------------------------
// Protobuf wire format, just enough to build and break messages.

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(int field, int wire_type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | wire_type, out);
}

void AppendLengthDelimited(int field, absl::string_view bytes,
                           std::string* out) {
  AppendTag(field, 2, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

std::string Varint(uint64_t value) {
  std::string out;
  AppendVarint(value, &out);
  return out;
}

// One top-level field of a serialized message: [begin, end) with its tag,
// and where its length prefix is for length-delimited ones.
struct WireField {
  size_t begin = 0;
  size_t length_at = 0;
  size_t end = 0;
  int wire_type = 0;
};

bool ReadVarint(absl::string_view bytes, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *pos < bytes.size(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(bytes[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// The well-formed top-level fields of `bytes`, up to the first that is not.
std::vector<WireField> SplitFields(absl::string_view bytes) {
  std::vector<WireField> fields;
  size_t pos = 0;
  while (pos < bytes.size()) {
    WireField field;
    field.begin = pos;
    uint64_t tag = 0, value = 0;
    if (!ReadVarint(bytes, &pos, &tag)) break;
    field.wire_type = static_cast<int>(tag & 7);
    field.length_at = pos;
    if (field.wire_type == 0) {
      if (!ReadVarint(bytes, &pos, &value)) break;
    } else if (field.wire_type == 1 || field.wire_type == 5) {
      pos += field.wire_type == 1 ? 8 : 4;
    } else if (field.wire_type == 2) {
      if (!ReadVarint(bytes, &pos, &value)) break;
      pos += value;
    } else {
      break;
    }
    if (pos > bytes.size()) break;
    field.end = pos;
    fields.push_back(field);
  }
  return fields;
}

// ---------------------------------------------------------------------------
// Every scalar field of a request type, reached through its message fields.

using FieldPath = std::vector<const FieldDescriptor*>;

void CollectFields(const Descriptor* type, const FieldPath& prefix,
                   std::vector<FieldPath>* strings,
                   std::vector<FieldPath>* numbers) {
  for (int i = 0; i < type->field_count(); ++i) {
    FieldPath path = prefix;
    path.push_back(type->field(i));
    switch (type->field(i)->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        strings->push_back(path);
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (prefix.size() < 3) {
          CollectFields(type->field(i)->message_type(), path, strings, numbers);
        }
        break;
      default:
        numbers->push_back(path);
        break;
    }
  }
}

// `base` serialized with the field at `path` replaced by one occurrence
// whose encoded value (after the tag) is `value`, of wire type
// `wire_type`. The parser takes fields in any order, and the last
// occurrence of a singular field.
std::string EncodeWithField(const Message& base, const FieldPath& path,
                            size_t depth, int wire_type,
                            const std::string& value) {
  const FieldDescriptor* field = path[depth];
  std::unique_ptr<Message> copy(base.New());
  copy->CopyFrom(base);
  copy->GetReflection()->ClearField(copy.get(), field);
  std::string out = copy->SerializeAsString();
  if (depth + 1 == path.size()) {
    AppendTag(field->number(), wire_type, &out);
    return out + value;
  }
  // The request types have no repeated message fields on these paths.
  const Message& inner = base.GetReflection()->GetMessage(base, field);
  AppendLengthDelimited(
      field->number(),
      EncodeWithField(inner, path, depth + 1, wire_type, value), &out);
  return out;
}

std::string WithString(const Message& base, const FieldPath& path,
                       absl::string_view value) {
  std::string encoded = Varint(value.size());
  encoded.append(value.data(), value.size());
  return EncodeWithField(base, path, 0, 2, encoded);
}

// Strings no client should send: invalid UTF-8 (stray bytes, overlong
// forms, surrogates, beyond U+10FFFF, cut sequences) and valid but odd code
// points (NUL, noncharacters, bidi overrides, a BOM, a lone combining mark,
// escapes, a JSON-breaking quote).
std::vector<std::string> OddStrings() {
  std::vector<std::string> odd = {std::string("\xff", 1),
                                  "\xc3\x28",
                                  "\xc0\xaf",
                                  "\xed\xa0\x80",
                                  "\xed\xbf\xbf",
                                  "\xf4\x90\x80\x80",
                                  "\xe2\x82",
                                  "\xf8\x88\x80\x80\x80",
                                  std::string("\0", 1),
                                  std::string("a\0b", 3),
                                  "\xef\xbf\xbf",
                                  "\xef\xbf\xbe",
                                  "\xe2\x80\x8f",
                                  "\xe2\x80\xae",
                                  "\xef\xbb\xbf",
                                  "\xcc\x81",
                                  "\xf0\x9f\x92\xa9",
                                  "\x1b[31m\r\n",
                                  "\"},\"level\":\"error\",\"x\":\"",
                                  "%s%n%x\\u0000"};
  std::string rtl;
  for (int i = 0; i < 300; ++i) rtl += "\xe2\x80\x8f";
  odd.push_back(rtl);
  return odd;
}

// Encoded varints for numeric fields: zero, the edges of every integer
// type (negatives as ten-byte varints), and a varint too long to be one.
std::vector<std::string> OddNumbers() {
  std::vector<std::string> odd;
  for (uint64_t value :
       {uint64_t{0}, uint64_t{1}, uint64_t{128}, uint64_t{999999999},
        uint64_t{1000000000}, uint64_t{std::numeric_limits<int32_t>::max()},
        uint64_t{std::numeric_limits<uint32_t>::max()},
        static_cast<uint64_t>(int64_t{std::numeric_limits<int32_t>::min()}),
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
        static_cast<uint64_t>(std::numeric_limits<int64_t>::min()),
        std::numeric_limits<uint64_t>::max()}) {
    odd.push_back(Varint(value));
  }
  odd.push_back(std::string(10, '\xff') + std::string(1, '\x01'));
  return odd;
}

// ---------------------------------------------------------------------------
// Malformed calls.

struct Method {
  std::string path;  // "/package.Service/Method"
  const Descriptor* request = nullptr;
  std::vector<std::string> bases;  // valid serialized requests
};

enum class Metadata { kNone, kHugeValue, kManyEntries, kOddRequestId, kBinary };

struct AbuseCall {
  size_t method = 0;
  std::string kind;
  std::string payload;
  Metadata metadata = Metadata::kNone;
  std::string must_not_echo;  // a client's string no error may quote
};

std::string RandomBytes(Rng& rng, size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

size_t RandomSize(Rng& rng) {
  const int bucket = static_cast<int>(rng() % 20);
  if (bucket < 6) return rng() % 17;
  if (bucket < 14) return 17 + rng() % 112;
  if (bucket < 19) return 129 + rng() % 1920;
  return 2049 + rng() % 63488;
}

// Structurally plausible garbage: fields with random numbers, wire types
// and contents, which parse more often than random bytes.
std::string RandomFields(Rng& rng) {
  std::string out;
  const int count = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < count; ++i) {
    const int field = 1 + static_cast<int>(rng() % 20);
    const int wire_type = static_cast<int>(rng() % 6);
    AppendTag(field, wire_type, &out);
    if (wire_type == 0) {
      AppendVarint(rng() >> (rng() % 64), &out);
    } else if (wire_type == 1 || wire_type == 5) {
      out += RandomBytes(rng, wire_type == 1 ? 8 : 4);
    } else if (wire_type == 2) {
      const std::string bytes = RandomBytes(rng, rng() % 40);
      out += Varint(bytes.size()) + bytes;
    }
  }
  return out;
}

// One random change to a serialized message.
std::string MutateOnce(std::string bytes, Rng& rng) {
  const std::vector<WireField> fields = SplitFields(bytes);
  const int kind = static_cast<int>(rng() % 6);
  if (fields.empty() || bytes.empty() || kind == 0) {  // splice in bytes
    const size_t at = bytes.empty() ? 0 : rng() % (bytes.size() + 1);
    return bytes.insert(at, RandomBytes(rng, 1 + rng() % 8));
  }
  const WireField& field = fields[rng() % fields.size()];
  switch (kind) {
    case 1:  // bit flips
      for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
      }
      return bytes;
    case 2:  // truncation
      return bytes.substr(0, rng() % bytes.size());
    case 3: {  // a field repeated, once or many times
      const std::string copy =
          bytes.substr(field.begin, field.end - field.begin);
      const int times = rng() % 4 == 0 ? 200 : 1;
      for (int i = 0; i < times; ++i) bytes.insert(field.end, copy);
      return bytes;
    }
    case 4: {  // the wrong wire type (the low bits of the tag's first byte)
      const int wrong = (field.wire_type + 1 + rng() % 7) % 8;
      bytes[field.begin] = static_cast<char>((bytes[field.begin] & ~7) | wrong);
      return bytes;
    }
    default: {  // a length that lies
      if (field.wire_type != 2) return MutateOnce(bytes, rng);
      size_t pos = field.length_at;
      uint64_t length = 0;
      ReadVarint(bytes, &pos, &length);
      const uint64_t lie =
          rng() % 2 == 0 ? length + 1 + rng() % 3 : uint64_t{0xffffffff};
      return bytes.substr(0, field.length_at) + Varint(lie) + bytes.substr(pos);
    }
  }
}

std::string Mutate(const std::string& base, Rng& rng) {
  std::string bytes = base;
  for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
    bytes = MutateOnce(std::move(bytes), rng);
  }
  return bytes;
}

// Whether `payload` parses as an update or delete of a user id that may
// exist (garbage must not touch the well-formed client's users).
bool TouchesExistingIds(const std::string& method, const std::string& payload) {
  google::protobuf::LogSilencer quiet;
  if (absl::EndsWith(method, "/UpdateUser")) {
    v1::UpdateUserRequest request;
    return request.ParseFromString(payload) && request.user().id() != 0 &&
           request.user().id() < kFarIdFloor;
  }
  if (absl::EndsWith(method, "/DeleteUser")) {
    v1::DeleteUserRequest request;
    return request.ParseFromString(payload) && request.id() != 0 &&
           request.id() < kFarIdFloor;
  }
  return false;
}

// The planned calls, the same for one seed and one set of base messages.
class CallPlan {
 public:
  CallPlan(std::vector<Method> methods, uint64_t seed)
      : methods_(std::move(methods)), rng_(seed) {
    for (size_t m = 0; m < methods_.size(); ++m) AddForMethod(m);
    std::shuffle(calls_.begin(), calls_.end(), rng_);
  }

  const std::vector<Method>& methods() const { return methods_; }
  // Malformed requests, sent many at a time.
  const std::vector<AbuseCall>& calls() const { return calls_; }
  // Oversized messages and metadata, and huge fields, each sent alone on a
  // connection of its own: gRPC may close the connection they arrive on,
  // and an answer whose headers are too large for the client (an error
  // that quotes a huge field) can fail other calls in flight beside it.
  const std::vector<AbuseCall>& transport_calls() const {
    return transport_calls_;
  }
  int withheld() const { return withheld_; }

 private:
  void Add(size_t method, const std::string& kind, std::string payload,
           Metadata metadata = Metadata::kNone, std::string no_echo = "") {
    if (TouchesExistingIds(methods_[method].path, payload)) {
      ++withheld_;
      return;
    }
    (kind == "oversized" || kind == "huge" || absl::StartsWith(kind, "metadata")
         ? transport_calls_
         : calls_)
        .push_back(
            {method, kind, std::move(payload), metadata, std::move(no_echo)});
  }

  void AddForMethod(size_t m) {
    const Method& method = methods_[m];
    for (int i = 0; i < kRandomCallsPerMethod; ++i) {
      Add(m, "random",
          i % 2 == 0 ? RandomBytes(rng_, RandomSize(rng_))
                     : RandomFields(rng_));
    }
    for (int i = 0; i < kMutatedCallsPerMethod; ++i) {
      Add(m, "mutated", Mutate(method.bases[i % method.bases.size()], rng_));
    }
    AddOddFields(m);
    AddOversized(m);
  }

  void AddOddFields(size_t m) {
    const Method& method = methods_[m];
    std::unique_ptr<Message> base(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(method.request)
            ->New());
    base->ParseFromString(method.bases[0]);
    std::vector<FieldPath> strings, numbers;
    CollectFields(method.request, {}, &strings, &numbers);
    for (const FieldPath& path : strings) {
      for (const std::string& odd : OddStrings()) {
        Add(m, "odd-string", WithString(*base, path, odd));
        // An error may name an email field, never quote its value.
        const std::string email = absl::StrCat("ab", odd, "c@abuse.example");
        Add(m, "odd-string", WithString(*base, path, email), Metadata::kNone,
            path.back()->name() == "email" ? email : "");
      }
    }
    for (const FieldPath& path : numbers) {
      for (const std::string& odd : OddNumbers()) {
        Add(m, "odd-number", EncodeWithField(*base, path, 0, 0, odd));
      }
    }
    AddHugeRepeated(m, *base, strings, numbers);
  }

  // Repeated fields and strings far larger than any real request, within
  // the message limit.
  void AddHugeRepeated(size_t m, const Message& base,
                       const std::vector<FieldPath>& strings,
                       const std::vector<FieldPath>& numbers) {
    for (const FieldPath& path : numbers) {
      if (!path.back()->is_repeated()) continue;
      for (int count : {1001, 100000}) {
        std::string packed;
        for (int i = 0; i < count; ++i) {
          AppendVarint(1 + rng_() % 1000000, &packed);
        }
        Add(m, "huge",
            EncodeWithField(base, path, 0, 2, Varint(packed.size()) + packed));
      }
    }
    for (const FieldPath& path : strings) {
      Add(m, "huge", WithString(base, path, std::string(900000, 'A')));
      if (!path.back()->is_repeated()) continue;
      std::string out = base.SerializeAsString();
      std::string one;
      AppendLengthDelimited(path.back()->number(), std::string(60, 'v'), &one);
      std::string many;
      for (int i = 0; i < 10000; ++i) many += one;
      // Nested repeated strings go inside their parent message.
      if (path.size() == 2) {
        AppendLengthDelimited(path[0]->number(), many, &out);
      } else {
        out += many;
      }
      Add(m, "huge", out);
    }
  }

  void AddOversized(size_t m) {
    const std::string& base = methods_[m].bases[0];
    Add(m, "oversized", RandomBytes(rng_, (2 << 20) + 17));
    std::string big = base;
    AppendLengthDelimited(1, std::string((1 << 20) + 100, 'z'), &big);
    Add(m, "oversized", big);
    for (const auto& [name, metadata] :
         {std::pair{"huge-value", Metadata::kHugeValue},
          std::pair{"many-entries", Metadata::kManyEntries},
          std::pair{"odd-request-id", Metadata::kOddRequestId},
          std::pair{"binary", Metadata::kBinary}}) {
      Add(m, absl::StrCat("metadata-", name), base, metadata);
    }
  }

  std::vector<Method> methods_;
  Rng rng_;
  std::vector<AbuseCall> calls_;
  std::vector<AbuseCall> transport_calls_;
  int withheld_ = 0;
};

void AddAbuseMetadata(Metadata metadata, Rng& rng,
                      grpc::ClientContext* context) {
  switch (metadata) {
    case Metadata::kNone:
      return;
    case Metadata::kHugeValue:
      context->AddMetadata("x-abuse", std::string(20000, 'm'));
      return;
    case Metadata::kManyEntries:
      for (int i = 0; i < 400; ++i) {
        context->AddMetadata(absl::StrCat("x-abuse-", i), std::string(40, 'e'));
      }
      return;
    case Metadata::kOddRequestId:
      context->AddMetadata(
          "x-request-id",
          "\"},\"level\":\"error\",\"m\":\"\\" + std::string(3000, '%'));
      return;
    case Metadata::kBinary:
      context->AddMetadata("x-request-id-bin", RandomBytes(rng, 300));
      context->AddMetadata("x-abuse-bin", RandomBytes(rng, 4000));
      return;
  }
}

// What the malformed calls got back.
struct CallStats {
  std::map<std::string, int> by_code;
  std::map<std::string, std::map<std::string, int>> by_kind_and_code;
  int hung = 0;        // DEADLINE_EXCEEDED or past the deadline
  int echoed = 0;      // errors that quote an email sent
  int unreadable = 0;  // answers too large for the client to receive
  std::vector<std::string> examples;  // of the three above
  absl::Duration slowest;
  std::string slowest_call;
  // The first message of each code that is not a validation answer, by
  // "code kind".
  std::map<std::string, std::string> first_message;
  // What the server accepted from garbage: users created, and the ids of
  // updates and deletes answered OK.
  std::set<uint64_t> created_ids;
  std::set<uint64_t> updated_ids;
  std::set<uint64_t> deleted_ids;
  int total = 0;
};

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// Notes what an OK answer to garbage wrote.
void RecordAcceptedWrite(const std::string& method, const AbuseCall& call,
                         const grpc::ByteBuffer& response, CallStats* stats) {
  google::protobuf::LogSilencer quiet;
  if (absl::EndsWith(method, "/CreateUser")) {
    v1::CreateUserResponse created;
    if (created.ParseFromString(Flatten(response))) {
      stats->created_ids.insert(created.user().id());
    }
  } else if (absl::EndsWith(method, "/UpdateUser")) {
    v1::UpdateUserRequest request;
    if (request.ParseFromString(call.payload)) {
      stats->updated_ids.insert(request.user().id());
    }
  } else if (absl::EndsWith(method, "/DeleteUser")) {
    v1::DeleteUserRequest request;
    if (request.ParseFromString(call.payload)) {
      stats->deleted_ids.insert(request.id());
    }
  }
}

std::shared_ptr<grpc::Channel> OwnConnection(const std::string& address) {
  grpc::ChannelArguments args;
  // A connection of its own, not one shared with the other channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Sends calls over one connection, `window` at a time.
class GarbageClient {
 public:
  GarbageClient(const std::string& address, const CallPlan& plan, uint64_t seed)
      : channel_(OwnConnection(address)),
        stub_(channel_),
        plan_(plan),
        rng_(seed) {}

  void Run(const std::vector<const AbuseCall*>& calls, int window,
           CallStats* stats) {
    grpc::CompletionQueue queue;
    size_t next = 0;
    int pending = 0;
    while (next < calls.size() && pending < window) {
      Start(*calls[next++], &queue);
      ++pending;
    }
    while (pending > 0) {
      void* tag = nullptr;
      bool ok = false;
      if (!queue.Next(&tag, &ok)) break;
      std::unique_ptr<InFlight> call(static_cast<InFlight*>(tag));
      --pending;
      Record(*call, stats);
      if (next < calls.size()) {
        Start(*calls[next++], &queue);
        ++pending;
      }
    }
    queue.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue.Next(&tag, &ok)) {
    }
  }

 private:
  struct InFlight {
    const AbuseCall* call = nullptr;
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Time start;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  };

  void Start(const AbuseCall& call, grpc::CompletionQueue* queue) {
    auto in_flight = std::make_unique<InFlight>();
    in_flight->call = &call;
    in_flight->start = absl::Now();
    in_flight->context.set_deadline(
        absl::ToChronoTime(in_flight->start + kCallDeadline));
    AddAbuseMetadata(call.metadata, rng_, &in_flight->context);
    grpc::Slice slice(call.payload);
    grpc::ByteBuffer request(&slice, 1);
    in_flight->reader = stub_.PrepareUnaryCall(
        &in_flight->context, plan_.methods()[call.method].path, request, queue);
    in_flight->reader->StartCall();
    InFlight* tag = in_flight.release();
    tag->reader->Finish(&tag->response, &tag->status, tag);
  }

  void Record(const InFlight& done, CallStats* stats) {
    const std::string& method = plan_.methods()[done.call->method].path;
    const std::string code = CodeName(done.status.error_code());
    const absl::Duration took = absl::Now() - done.start;
    ++stats->total;
    ++stats->by_code[code];
    ++stats->by_kind_and_code[done.call->kind][code];
    if (took > stats->slowest) {
      stats->slowest = took;
      stats->slowest_call =
          absl::StrCat(method, " ", done.call->kind, " ", code);
    }
    const bool hung =
        done.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
        took >= kCallDeadline;
    const bool echoed = !done.call->must_not_echo.empty() &&
                        absl::StrContains(done.status.error_message(),
                                          done.call->must_not_echo);
    // A request within the limits whose answer the client's gRPC refused:
    // its headers (the status message) were too large.
    const bool unreadable =
        done.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        done.call->metadata != Metadata::kHugeValue &&
        done.call->metadata != Metadata::kManyEntries &&
        done.call->kind != "oversized" &&
        absl::StrContains(done.status.error_message(), "metadata");
    stats->hung += hung ? 1 : 0;
    stats->echoed += echoed ? 1 : 0;
    stats->unreadable += unreadable ? 1 : 0;
    if ((hung || echoed || unreadable) && stats->examples.size() < 10) {
      stats->examples.push_back(absl::StrCat(
          method, " ", done.call->kind, ": ", code, " after ",
          absl::FormatDuration(took), " ", done.status.error_message()));
    }
    if (!done.status.ok() &&
        done.status.error_code() != grpc::StatusCode::INVALID_ARGUMENT &&
        done.status.error_code() != grpc::StatusCode::NOT_FOUND &&
        done.status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      stats->first_message.emplace(
          absl::StrCat(code, " ", done.call->kind),
          absl::StrCat(method, ": ",
                       done.status.error_message().substr(0, 160)));
    }
    if (done.status.ok()) {
      RecordAcceptedWrite(method, *done.call, done.response, stats);
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  const CallPlan& plan_;
  Rng rng_;
};

void Merge(const CallStats& from, CallStats* into) {
  for (const auto& [code, n] : from.by_code) into->by_code[code] += n;
  for (const auto& [kind, codes] : from.by_kind_and_code) {
    for (const auto& [code, n] : codes) into->by_kind_and_code[kind][code] += n;
  }
  into->hung += from.hung;
  into->echoed += from.echoed;
  into->unreadable += from.unreadable;
  into->total += from.total;
  if (from.slowest > into->slowest) {
    into->slowest = from.slowest;
    into->slowest_call = from.slowest_call;
  }
  for (const std::string& e : from.examples) {
    if (into->examples.size() < 10) into->examples.push_back(e);
  }
  into->first_message.insert(from.first_message.begin(),
                             from.first_message.end());
  into->created_ids.insert(from.created_ids.begin(), from.created_ids.end());
  into->updated_ids.insert(from.updated_ids.begin(), from.updated_ids.end());
  into->deleted_ids.insert(from.deleted_ids.begin(), from.deleted_ids.end());
}

// Runs every `every`th malformed call over kGarbageChannels connections at
// once, and (when every is 1) the transport calls one by one, each on a
// connection of its own.
CallStats RunGarbage(const std::string& address, const CallPlan& plan,
                     uint64_t seed, size_t every = 1) {
  std::vector<std::vector<const AbuseCall*>> shares(kGarbageChannels + 1);
  for (size_t i = 0; i < plan.calls().size(); i += every) {
    shares[(i / every) % kGarbageChannels].push_back(&plan.calls()[i]);
  }
  for (const AbuseCall& call : plan.transport_calls()) {
    if (every == 1) shares[kGarbageChannels].push_back(&call);
  }
  std::vector<CallStats> stats(shares.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kGarbageChannels; ++t) {
    threads.emplace_back([&, t] {
      GarbageClient(address, plan, seed + t + 1)
          .Run(shares[t], kWindow, &stats[t]);
    });
  }
  threads.emplace_back([&] {
    for (const AbuseCall* call : shares[kGarbageChannels]) {
      GarbageClient(address, plan, seed)
          .Run({call}, 1, &stats[kGarbageChannels]);
    }
  });
  for (std::thread& thread : threads) thread.join();
  CallStats all;
  for (const CallStats& s : stats) Merge(s, &all);
  return all;
}

// ---------------------------------------------------------------------------
// A well-formed client beside the abuse: creates users and reads them back
// with their tokens until stopped; every call must succeed.

class WellFormedClient {
 public:
  explicit WellFormedClient(const std::string& address)
      : stub_(v1::UserService::NewStub(OwnConnection(address))) {}

  void Start() {
    thread_ = std::thread([this] {
      while (!stop_.HasBeenNotified()) {
        Round();
        stop_.WaitForNotificationWithTimeout(absl::Milliseconds(20));
      }
    });
  }
  // Stops and closes the connection.
  void Stop() {
    stop_.Notify();
    if (thread_.joinable()) thread_.join();
    stub_.reset();
  }

  const std::vector<uint64_t>& created() const { return created_; }
  int calls() const { return calls_; }
  absl::Duration slowest() const { return slowest_; }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  void Round() {
    const std::string name = UniqueUsername("abusewf_");
    v1::CreateUserRequest create;
    create.set_username(name);
    create.set_email(name + "@example.com");
    v1::CreateUserResponse created;
    auto context = ContextWithDeadline(kCallDeadline);
    if (!Check("CreateUser", *context,
               stub_->CreateUser(context.get(), create, &created))) {
      return;
    }
    created_.push_back(created.user().id());
    v1::GetUserRequest get;
    get.set_id(created.user().id());
    get.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    get.mutable_read_options()->set_consistency_token(
        created.consistency_token());
    v1::GetUserResponse got;
    context = ContextWithDeadline(kCallDeadline);
    if (Check("GetUser", *context, stub_->GetUser(context.get(), get, &got)) &&
        got.user().username() != name) {
      failures_.push_back("GetUser returned another user");
    }
    if (created_.size() % 5 == 0) BatchAndList(created.consistency_token());
  }

  void BatchAndList(const std::string& token) {
    v1::BatchGetUsersRequest batch;
    for (size_t i = created_.size() - 5; i < created_.size(); ++i) {
      batch.add_ids(created_[i]);
    }
    batch.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    batch.mutable_read_options()->set_consistency_token(token);
    v1::BatchGetUsersResponse users;
    auto context = ContextWithDeadline(kCallDeadline);
    if (Check("BatchGetUsers", *context,
              stub_->BatchGetUsers(context.get(), batch, &users)) &&
        users.users_size() != 5) {
      failures_.push_back(
          absl::StrCat("BatchGetUsers returned ", users.users_size(), " of 5"));
    }
    v1::ListUsersRequest list;
    list.set_page_size(5);
    v1::ListUsersResponse page;
    context = ContextWithDeadline(kCallDeadline);
    Check("ListUsers", *context, stub_->ListUsers(context.get(), list, &page));
  }

  bool Check(const std::string& method, const grpc::ClientContext& context,
             const grpc::Status& status) {
    ++calls_;
    const absl::Time started =
        absl::FromChrono(context.deadline()) - kCallDeadline;
    slowest_ = std::max(slowest_, absl::Now() - started);
    if (status.ok()) return true;
    failures_.push_back(absl::StrCat(method, ": ",
                                     CodeName(status.error_code()), " ",
                                     status.error_message()));
    return false;
  }

  std::unique_ptr<v1::UserService::Stub> stub_;
  absl::Notification stop_;
  std::thread thread_;
  std::vector<uint64_t> created_;
  std::vector<std::string> failures_;
  int calls_ = 0;
  absl::Duration slowest_;
};

// ---------------------------------------------------------------------------
// Connection-level abuse over plain sockets.

int ConnectTo(int port, int receive_buffer = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
               sizeof(receive_buffer));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

constexpr absl::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Connections that send `first_bytes` (maybe none) and then nothing; the
// server is expected to close them.
class HeldConnections {
 public:
  HeldConnections(std::string name, std::string first_bytes)
      : name_(std::move(name)), first_bytes_(std::move(first_bytes)) {}
  ~HeldConnections() { CloseAll(); }

  // Opens `count`; false (with the reason) if one cannot be opened.
  bool Open(int port, int count, std::string* error) {
    for (int i = 0; i < count; ++i) {
      const int fd = ConnectTo(port);
      if (fd < 0 || !SendAll(fd, first_bytes_)) {
        *error = absl::StrCat(name_, " connection ", i, ": ", strerror(errno));
        if (fd >= 0) close(fd);
        return false;
      }
      open_.push_back({fd, absl::Now(), absl::InfiniteFuture()});
    }
    return true;
  }

  // Notes which ones the server closed; all closed by then is true.
  bool Poll() {
    std::vector<pollfd> fds;
    std::vector<Held*> held;
    for (Held& h : open_) {
      if (h.closed_at != absl::InfiniteFuture()) continue;
      fds.push_back({h.fd, POLLIN | POLLRDHUP, 0});
      held.push_back(&h);
    }
    if (fds.empty()) return true;
    if (poll(fds.data(), fds.size(), 0) <= 0) return false;
    char buffer[4096];
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = recv(fds[i].fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        held[i]->closed_at = absl::Now();
      }
    }
    return false;
  }

  int count() const { return static_cast<int>(open_.size()); }
  int closed_by_server() const {
    return static_cast<int>(std::count_if(
        open_.begin(), open_.end(),
        [](const Held& h) { return h.closed_at != absl::InfiniteFuture(); }));
  }
  // Longest any connection the server closed was open.
  absl::Duration longest_open() const {
    absl::Duration longest;
    for (const Held& h : open_) {
      if (h.closed_at != absl::InfiniteFuture()) {
        longest = std::max(longest, h.closed_at - h.opened_at);
      }
    }
    return longest;
  }
  absl::Time last_opened() const {
    return open_.empty() ? absl::Now() : open_.back().opened_at;
  }

  void CloseAll() {
    for (Held& h : open_) {
      if (h.fd >= 0) close(h.fd);
      h.fd = -1;
    }
  }

 private:
  struct Held {
    int fd;
    absl::Time opened_at;
    absl::Time closed_at;
  };
  std::string name_;
  std::string first_bytes_;
  std::vector<Held> open_;
};

void AppendFrame(int type, int flags, uint32_t stream,
                 absl::string_view payload, std::string* out) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  out->push_back(static_cast<char>(length >> 16));
  out->push_back(static_cast<char>(length >> 8));
  out->push_back(static_cast<char>(length));
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) {
    out->push_back(static_cast<char>((stream >> shift) & 0xff));
  }
  out->append(payload.data(), payload.size());
}

// HPACK: an integer with an N-bit prefix, and a literal header field
// without indexing and without Huffman coding.
void AppendHpackInteger(uint64_t value, int prefix_bits, uint8_t first,
                        std::string* out) {
  const uint64_t limit = (1u << prefix_bits) - 1;
  if (value < limit) {
    out->push_back(static_cast<char>(first | value));
    return;
  }
  out->push_back(static_cast<char>(first | limit));
  value -= limit;
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendHeader(absl::string_view name, absl::string_view value,
                  std::string* out) {
  out->push_back('\0');
  AppendHpackInteger(name.size(), 7, 0, out);
  out->append(name.data(), name.size());
  AppendHpackInteger(value.size(), 7, 0, out);
  out->append(value.data(), value.size());
}

// The bytes of a client that opens `streams` calls and never reads: half
// send a request (whose answer then waits in the server), half only their
// headers (so the server waits for the request).
std::string NeverReadingStreams(int port, int streams) {
  std::string out(kHttp2Preface);
  AppendFrame(4, 0, 0, "", &out);  // SETTINGS, all defaults
  v1::ListUsersRequest list;
  list.set_page_size(100);
  const std::string message = list.SerializeAsString();
  std::string grpc_frame(1, '\0');
  for (int shift : {24, 16, 8, 0}) {
    grpc_frame.push_back(static_cast<char>((message.size() >> shift) & 0xff));
  }
  grpc_frame += message;
  for (int i = 0; i < streams; ++i) {
    const uint32_t stream = 1 + 2 * static_cast<uint32_t>(i);
    std::string headers;
    AppendHeader(":method", "POST", &headers);
    AppendHeader(":scheme", "http", &headers);
    AppendHeader(":path",
                 i % 4 == 3 ? "/userservice.admin.v1.AdminService/GetStatus"
                            : "/userservice.v1.UserService/ListUsers",
                 &headers);
    AppendHeader(":authority", absl::StrCat("127.0.0.1:", port), &headers);
    AppendHeader("content-type", "application/grpc", &headers);
    AppendHeader("te", "trailers", &headers);
    AppendFrame(1, 0x4, stream, headers, &out);  // HEADERS, END_HEADERS
    if (i % 2 == 0) {
      AppendFrame(0, 0x1, stream, grpc_frame, &out);  // DATA, END_STREAM
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The server process from outside: memory, descriptors, log.

int64_t RssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    int64_t kib = 0;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
  }
  return -1;
}

std::vector<std::string> FdTargets(pid_t pid) {
  std::vector<std::string> targets;
  const std::string dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return targets;
  while (dirent* entry = readdir(d)) {
    if (entry->d_name[0] == '.') continue;
    char target[256];
    const ssize_t n = readlink(absl::StrCat(dir, "/", entry->d_name).c_str(),
                               target, sizeof(target) - 1);
    targets.push_back(n > 0 ? std::string(target, n) : "?");
  }
  closedir(d);
  return targets;
}

// TCP sockets by inode: local and remote port (IPv4 and IPv6 tables).
std::map<std::string, std::pair<int, int>> TcpSocketPorts(pid_t pid) {
  std::map<std::string, std::pair<int, int>> ports;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/net/", table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 10) continue;
      auto port_of = [](const std::string& address) {
        return static_cast<int>(std::strtol(
            address.substr(address.rfind(':') + 1).c_str(), nullptr, 16));
      };
      ports[f[9]] = {port_of(f[1]), port_of(f[2])};
    }
  }
  return ports;
}

// The server's descriptors: client connections to its gRPC port, sockets
// to the databases, and everything else.
struct FdCounts {
  int total = 0;
  int clients = 0;
  int database = 0;
  int other() const { return total - clients - database; }
  std::string ToString() const {
    return absl::StrCat(total, " (clients ", clients, ", database ", database,
                        ", other ", other(), ")");
  }
};

FdCounts CountFds(pid_t pid, int grpc_port, const std::set<int>& db_ports) {
  FdCounts counts;
  const std::vector<std::string> targets = FdTargets(pid);
  const auto sockets = TcpSocketPorts(pid);
  for (const std::string& target : targets) {
    ++counts.total;
    if (!absl::StartsWith(target, "socket:[")) continue;
    auto it = sockets.find(target.substr(8, target.size() - 9));
    if (it == sockets.end()) continue;
    if (it->second.first == grpc_port && it->second.second != 0) {
      ++counts.clients;
    } else if (db_ports.count(it->second.second) > 0) {
      ++counts.database;
    }
  }
  return counts;
}

// Samples the server's memory and descriptor count until stopped.
class ProcessMonitor {
 public:
  explicit ProcessMonitor(pid_t pid) : pid_(pid) {
    thread_ = std::thread([this] {
      do {
        const int64_t rss = RssKib(pid_);
        const int fds = static_cast<int>(FdTargets(pid_).size());
        absl::MutexLock lock(&mu_);
        peak_rss_kib_ = std::max(peak_rss_kib_, rss);
        peak_fds_ = std::max(peak_fds_, fds);
      } while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
    });
  }
  ~ProcessMonitor() { Stop(); }
  void Stop() {
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (thread_.joinable()) thread_.join();
  }
  int64_t peak_rss_kib() {
    absl::MutexLock lock(&mu_);
    return peak_rss_kib_;
  }
  int peak_fds() {
    absl::MutexLock lock(&mu_);
    return peak_fds_;
  }

 private:
  pid_t pid_;
  absl::Mutex mu_;
  int64_t peak_rss_kib_ ABSL_GUARDED_BY(mu_) = 0;
  int peak_fds_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread thread_;
};

// Log lines by level, and the error lines (each distinct message once,
// with how often it came).
struct LogStats {
  std::map<std::string, int> by_level;
  std::map<std::string, int> errors;
  int64_t bytes = 0;
  // The kind of line written most often in one second, and how often.
  std::string busiest;
  int busiest_count = 0;
};

std::string JsonStringAfter(absl::string_view line, absl::string_view key) {
  const size_t at = line.find(key);
  if (at == absl::string_view::npos) return "";
  size_t end = at + key.size();
  while (end < line.size() && line[end] != '"')
    end += line[end] == '\\' ? 2 : 1;
  return std::string(line.substr(at + key.size(), end - at - key.size()));
}

// What the server's rate limits count as one kind of line: an access line
// or "call failed" warning per method and code, a library line per source
// location, any other line by its message.
std::string LineKind(absl::string_view line, const std::string& level) {
  const std::string message = JsonStringAfter(line, "\"message\":\"");
  const std::string library = JsonStringAfter(line, "\"library\":\"");
  if (!library.empty()) {
    return absl::StrCat(level, " ", library, " ",
                        JsonStringAfter(line, "\"source\":\""));
  }
  const std::string method = JsonStringAfter(line, "\"method\":\"");
  if (!method.empty()) {
    return absl::StrCat(level, " ", message, " ", method, " ",
                        JsonStringAfter(line, "\"grpc_code\":\""),
                        JsonStringAfter(line, "\"code\":\""));
  }
  return absl::StrCat(level, " ", message.substr(0, 100));
}

LogStats AnalyzeLog(absl::string_view log) {
  LogStats stats;
  stats.bytes = static_cast<int64_t>(log.size());
  std::map<std::string, int> per_second;  // kind + second -> lines
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    const std::string level = JsonStringAfter(line, "\"level\":\"");
    ++stats.by_level[level.empty() ? "unparsed" : level];
    const std::string key =
        absl::StrCat(JsonStringAfter(line, "\"time\":\"").substr(0, 19), " ",
                     LineKind(line, level));
    if (++per_second[key] > stats.busiest_count) {
      stats.busiest_count = per_second[key];
      stats.busiest = key;
    }
    if (level == "error") {
      const std::string source = JsonStringAfter(line, "\"source\":\"");
      ++stats.errors[absl::StrCat(
          JsonStringAfter(line, "\"message\":\"").substr(0, 200),
          source.empty() ? "" : " @ ", source)];
    }
  }
  return stats;
}

// id -> version of every row in the users table.
absl::StatusOr<std::map<uint64_t, std::string>> UserRows() {
  TestCluster& cluster = TestCluster::Get();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = cluster.Query(
      "primary",
      absl::StrCat("SELECT id, version FROM `", cluster.db_name(), "`.users"));
  if (!rows.ok()) return rows.status();
  std::map<uint64_t, std::string> out;
  for (const std::vector<std::string>& row : *rows) {
    uint64_t id = 0;
    if (row.size() == 2 && absl::SimpleAtoi(row[0], &id)) out[id] = row[1];
  }
  return out;
}

std::string Counts(const std::map<std::string, int>& counts) {
  return absl::StrJoin(counts, ",", absl::PairFormatter("="));
}

// Lets this process and the server (which inherits it) hold thousands of
// sockets; returns the soft limit now in force.
rlim_t RaiseDescriptorLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

bool ServerHasFlag(const std::string& flag) {
  const CommandResult help = RunCommand({UserServerPath(), "--help"});
  return absl::StrContains(help.out + help.err, flag);
}

uint64_t Seed() {
  const char* text = std::getenv("ABUSE_SEED");
  uint64_t seed = kDefaultSeed;
  if (text != nullptr && *text != '\0') {
    EXPECT_TRUE(absl::SimpleAtoi(text, &seed)) << "ABUSE_SEED=" << text;
  }
  return seed;
}

// ---------------------------------------------------------------------------

// What the test compares before and after the abuse.
struct ServerState {
  FdCounts fds;
  int64_t rss_kib = 0;
  std::map<uint64_t, std::string> rows;  // id -> version
};

// Row changes that neither the well-formed client nor an OK answer to
// garbage (a request the server took as valid, and said so) accounts for.
std::vector<std::string> UnexplainedRowChanges(
    const std::map<uint64_t, std::string>& before,
    const std::map<uint64_t, std::string>& after,
    const std::vector<uint64_t>& well_formed, const CallStats& calls) {
  std::set<uint64_t> created(well_formed.begin(), well_formed.end());
  created.insert(calls.created_ids.begin(), calls.created_ids.end());
  std::vector<std::string> unexplained;
  for (const auto& [id, version] : after) {
    auto was = before.find(id);
    if (was == before.end() && created.count(id) == 0) {
      unexplained.push_back(absl::StrCat("new id ", id));
    } else if (was != before.end() && was->second != version &&
               calls.updated_ids.count(id) == 0) {
      unexplained.push_back(absl::StrCat("id ", id, " changed version"));
    }
  }
  for (const auto& [id, version] : before) {
    if (after.count(id) == 0 && calls.deleted_ids.count(id) == 0) {
      unexplained.push_back(absl::StrCat("id ", id, " deleted"));
    }
  }
  return unexplained;
}

// Whether the server is an AddressSanitizer build, whose shadow memory and
// quarantine of freed blocks make its RSS several times larger.
bool UsesAsan(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/maps"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StrContains(line, "libasan")) return true;
  }
  return false;
}

struct Outcome;

class AbuseE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestCluster::Get();
    descriptor_limit_ = RaiseDescriptorLimit();
    handshake_flag_ = ServerHasFlag("--handshake-timeout");
    std::vector<std::string> flags;
    if (handshake_flag_) {
      flags.push_back(absl::StrCat(
          "--handshake-timeout=", absl::ToInt64Seconds(kHandshakeTimeout),
          "s"));
    }
    auto started = E2eServer::Start(flags);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
      auto health = server_->Health();
      return health.ok() &&
             *health == grpc::health::v1::HealthCheckResponse::SERVING;
    }));
    db_ports_ = DatabasePorts();
  }

  void TearDown() override {
    for (int fd : never_reading_) close(fd);
    if (HasFailure() && server_ != nullptr) {
      // The end is what matters; the whole may be megabytes.
      const std::string log = server_->process().Log();
      std::cerr << "---- user_server log (last 20000 bytes) ----\n"
                << log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
    }
  }

  static std::set<int> DatabasePorts() {
    TestCluster& cluster = TestCluster::Get();
    std::vector<std::string> nodes = cluster.ReplicaNodes();
    nodes.push_back("primary");
    std::set<int> ports;
    for (const std::string& node : nodes) {
      const std::string address = cluster.Address(node);
      int port = 0;
      EXPECT_TRUE(
          absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port))
          << address;
      ports.insert(port);
    }
    return ports;
  }

  FdCounts Fds() {
    return CountFds(server_->process().pid(), server_->process().port(),
                    db_ports_);
  }

  ServerState State() {
    ServerState state;
    state.fds = Fds();
    state.rss_kib = RssKib(server_->process().pid());
    absl::StatusOr<std::map<uint64_t, std::string>> rows = UserRows();
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) state.rows = std::move(*rows);
    return state;
  }

  // The valid requests that malformed ones are made from, around one real
  // user and one real page token.
  std::vector<Method> Methods() {
    const std::string name = UniqueUsername("abuseseed_");
    v1::CreateUserRequest create;
    create.set_username(name);
    create.set_email(name + "@example.com");
    create.set_request_id("abuse-seed-" + name);
    v1::CreateUserResponse seed;
    auto context = ContextWithDeadline(kCallDeadline);
    EXPECT_TRUE(server_->users().CreateUser(context.get(), create, &seed).ok());
    seed_id_ = seed.user().id();
    v1::ListUsersRequest first_page;
    first_page.set_page_size(1);
    first_page.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::ListUsersResponse page;
    context = ContextWithDeadline(kCallDeadline);
    EXPECT_TRUE(
        server_->users().ListUsers(context.get(), first_page, &page).ok());
    return MethodsAround(create, seed, page.next_page_token());
  }

  static std::vector<Method> MethodsAround(const v1::CreateUserRequest& create,
                                           const v1::CreateUserResponse& seed,
                                           const std::string& page_token);

  // Idle and half-handshake connections, and the never-reading client.
  void OpenConnections() {
    const int port = server_->process().port();
    // Room for this process's other descriptors is left.
    const rlim_t spare = descriptor_limit_ > 1024 ? descriptor_limit_ - 512
                                                  : descriptor_limit_ / 2;
    const int per_kind =
        static_cast<int>(std::min<rlim_t>(kHeldConnectionsPerKind, spare / 2));
    std::string error;
    EXPECT_TRUE(idle_.Open(port, per_kind, &error)) << error;
    EXPECT_TRUE(half_.Open(port, per_kind, &error)) << error;
    for (int i = 0; i < kNeverReadingConnections; ++i) {
      const int fd = ConnectTo(port, /*receive_buffer=*/4096);
      EXPECT_GE(fd, 0) << strerror(errno);
      if (fd < 0) continue;
      never_reading_.push_back(fd);
      EXPECT_TRUE(SendAll(
          fd, NeverReadingStreams(port, kStreamsPerNeverReadingConnection)))
          << strerror(errno);
    }
    never_reading_since_ = absl::Now();
  }

  // Notes when the server closes each held connection, until all are
  // closed or the handshake limit and its margin have passed for each.
  void WatchConnections() {
    const absl::Time give_up =
        std::max(idle_.last_opened(), half_.last_opened()) + kHandshakeTimeout +
        kHandshakeMargin;
    while (absl::Now() < give_up) {
      const bool idle_closed = idle_.Poll();
      if (half_.Poll() && idle_closed) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  void CloseConnections() {
    idle_.CloseAll();
    half_.CloseAll();
    absl::SleepFor(kNeverReadingHold - (absl::Now() - never_reading_since_));
    for (int fd : never_reading_) close(fd);
    never_reading_.clear();
  }

  // The descriptors once every client is gone (or the wait is over).
  FdCounts SettledFds(const FdCounts& before) {
    FdCounts now;
    WaitFor(
        kFdSettleTimeout,
        [&] {
          now = Fds();
          return now.clients <= before.clients && now.other() <= before.other();
        },
        absl::Milliseconds(200));
    return now;
  }

  // The abuse, from the baseline to the second round of garbage.
  void RunAbuse(const CallPlan& plan, const ServerState& before, Outcome* o);
  // What is left once it is over: health, rows, the log (stops the server).
  void Collect(const ServerState& before, size_t log_before, Outcome* o);

  std::unique_ptr<E2eServer> server_;
  rlim_t descriptor_limit_ = 0;
  bool handshake_flag_ = false;
  std::set<int> db_ports_;
  uint64_t seed_id_ = 0;
  HeldConnections idle_{"idle", ""};
  HeldConnections half_{"half-handshake",
                        std::string(kHttp2Preface.substr(0, 12))};
  std::vector<int> never_reading_;
  absl::Time never_reading_since_;
};

template <typename T>
std::string Serialized(const T& message) {
  return message.SerializeAsString();
}

std::vector<Method> AbuseE2eTest::MethodsAround(
    const v1::CreateUserRequest& create, const v1::CreateUserResponse& seed,
    const std::string& page_token) {
  const std::string token = seed.consistency_token();
  std::vector<Method> methods;
  const std::string user_service = "/userservice.v1.UserService/";
  {
    v1::CreateUserRequest again = create;
    again.clear_request_id();
    methods.push_back({user_service + "CreateUser",
                       v1::CreateUserRequest::descriptor(),
                       {Serialized(create), Serialized(again)}});
  }
  {
    v1::GetUserRequest by_id, by_name, by_email;
    by_id.set_id(seed.user().id());
    by_id.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    by_id.mutable_read_options()->set_consistency_token(token);
    by_name.set_username(create.username());
    by_name.mutable_read_options()->set_consistency(
        v1::CONSISTENCY_BOUNDED_STALENESS);
    by_name.mutable_read_options()->mutable_max_staleness()->set_seconds(5);
    by_email.set_email(create.email());
    by_email.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    by_email.mutable_read_options()->add_consistency_tokens(token);
    by_email.mutable_read_options()->add_consistency_tokens(token);
    methods.push_back(
        {user_service + "GetUser",
         v1::GetUserRequest::descriptor(),
         {Serialized(by_id), Serialized(by_name), Serialized(by_email)}});
  }
  {
    v1::BatchGetUsersRequest batch;
    for (uint64_t id : {seed.user().id(), uint64_t{1}, uint64_t{2}}) {
      batch.add_ids(id);
    }
    batch.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    batch.mutable_read_options()->set_consistency_token(token);
    methods.push_back({user_service + "BatchGetUsers",
                       v1::BatchGetUsersRequest::descriptor(),
                       {Serialized(batch)}});
  }
  {
    v1::ListUsersRequest next, first;
    next.set_page_size(10);
    next.set_page_token(page_token);
    next.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    first.set_page_size(3);
    first.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
    methods.push_back({user_service + "ListUsers",
                       v1::ListUsersRequest::descriptor(),
                       {Serialized(next), Serialized(first)}});
  }
  {
    v1::UpdateUserRequest update;
    update.mutable_user()->set_id(kFarId);
    update.mutable_user()->set_username("abuse_update");
    update.mutable_user()->set_email("abuse_update@example.com");
    update.mutable_user()->set_version(7);
    update.mutable_user()->mutable_create_time()->set_seconds(1);
    update.mutable_update_mask()->add_paths("email");
    update.mutable_update_mask()->add_paths("username");
    update.set_expected_version(kFarVersion);
    methods.push_back({user_service + "UpdateUser",
                       v1::UpdateUserRequest::descriptor(),
                       {Serialized(update)}});
  }
  {
    v1::DeleteUserRequest remove;
    remove.set_id(kFarId);
    remove.set_expected_version(kFarVersion);
    methods.push_back({user_service + "DeleteUser",
                       v1::DeleteUserRequest::descriptor(),
                       {Serialized(remove)}});
  }
  {
    std::string unknown_field;
    AppendLengthDelimited(15, "x", &unknown_field);
    methods.push_back({"/userservice.admin.v1.AdminService/GetStatus",
                       admin::v1::GetStatusRequest::descriptor(),
                       {"", unknown_field}});
  }
  {
    grpc::health::v1::HealthCheckRequest check;
    check.set_service("userservice.v1.UserService");
    methods.push_back({"/grpc.health.v1.Health/Check",
                       grpc::health::v1::HealthCheckRequest::descriptor(),
                       {Serialized(check)}});
  }
  return methods;
}

// Everything the summary line reports and the test checks.
struct Outcome {
  uint64_t seed = 0;
  int withheld = 0;
  CallStats calls;
  absl::Duration calls_took;
  int well_formed_calls = 0;
  std::vector<uint64_t> well_formed_created;
  std::vector<std::string> well_formed_failures;
  absl::Duration well_formed_slowest;
  const HeldConnections* idle = nullptr;
  const HeldConnections* half = nullptr;
  size_t rows_before = 0;
  size_t rows_after = 0;
  std::vector<std::string> unexplained_rows;
  std::string health;  // what grpc.health.v1.Health answers afterwards
  LogStats log;
  int64_t rss_before = 0, rss_peak = 0, rss_first = 0, rss_after = 0;
  int64_t rss_scale = 1;
  FdCounts fds_before, fds_after;
  int fds_peak = 0;
  bool handshake_flag = false;
  int exit_code = -1;
  absl::Duration shutdown_took;
  absl::Duration elapsed;
};

std::string SummaryLine(const Outcome& o) {
  const absl::Duration longest_open =
      std::max(o.idle->longest_open(), o.half->longest_open());
  return absl::StrCat(
      "abuse summary: seed=", o.seed, " calls=", o.calls.total,
      " withheld=", o.withheld, " codes{", Counts(o.calls.by_code),
      "} hung=", o.calls.hung, " unreadable=", o.calls.unreadable,
      " slowest=", absl::FormatDuration(o.calls.slowest), " (",
      o.calls.slowest_call,
      ") first_round=", absl::FormatDuration(o.calls_took),
      " accepted_writes{create=", o.calls.created_ids.size(),
      ",update=", o.calls.updated_ids.size(),
      ",delete=", o.calls.deleted_ids.size(),
      "} well_formed{calls=", o.well_formed_calls,
      ",creates=", o.well_formed_created.size(),
      ",failures=", o.well_formed_failures.size(),
      ",slowest=", absl::FormatDuration(o.well_formed_slowest),
      "} connections{idle=", o.idle->count(),
      ",idle_closed_by_server=", o.idle->closed_by_server(),
      ",half_handshake=", o.half->count(),
      ",half_closed_by_server=", o.half->closed_by_server(),
      ",longest_open=", absl::FormatDuration(longest_open),
      ",never_reading=", kNeverReadingConnections, "x",
      kStreamsPerNeverReadingConnection,
      "_streams} rows{before=", o.rows_before, ",after=", o.rows_after,
      ",unexplained=", o.unexplained_rows.size(), "} log{",
      Counts(o.log.by_level), ",bytes=", o.log.bytes,
      ",busiest_kind_per_second=", o.log.busiest_count, " (", o.log.busiest,
      ")", "} rss_kib{before=", o.rss_before, ",peak=", o.rss_peak,
      ",after_first_round=", o.rss_first, ",after=", o.rss_after,
      "} fds{before=", o.fds_before.ToString(), ",peak=", o.fds_peak,
      ",after=", o.fds_after.ToString(),
      "} handshake_timeout_flag=", o.handshake_flag ? "yes" : "no",
      " shutdown=", absl::FormatDuration(o.shutdown_took),
      " elapsed=", absl::FormatDuration(o.elapsed));
}

void PrintSummary(const Outcome& o) {
  std::cout << SummaryLine(o) << std::endl;
  for (const auto& [kind, codes] : o.calls.by_kind_and_code) {
    std::cout << "  " << kind << ": " << Counts(codes) << "\n";
  }
  for (const auto& [code_and_kind, message] : o.calls.first_message) {
    std::cout << "  first " << code_and_kind << ": " << message << "\n";
  }
}

void AbuseE2eTest::RunAbuse(const CallPlan& plan, const ServerState& before,
                            Outcome* o) {
  const std::string address = server_->process().address();
  const pid_t pid = server_->process().pid();
  ProcessMonitor monitor(pid);
  WellFormedClient well_formed(address);
  well_formed.Start();
  OpenConnections();
  std::thread watcher([&] { WatchConnections(); });
  const absl::Time calls_start = absl::Now();
  o->calls = RunGarbage(address, plan, o->seed);
  o->calls_took = absl::Now() - calls_start;
  watcher.join();
  CloseConnections();
  well_formed.Stop();
  o->fds_after = SettledFds(before.fds);
  o->rss_first = RssKib(pid);
  Merge(RunGarbage(address, plan, o->seed + 1000, /*every=*/3), &o->calls);
  o->rss_after = RssKib(pid);
  monitor.Stop();
  o->rss_before = before.rss_kib;
  o->rss_peak = std::max(monitor.peak_rss_kib(), o->rss_after);
  o->rss_scale = UsesAsan(pid) ? 8 : 1;
  o->fds_before = before.fds;
  o->fds_peak = monitor.peak_fds();
  o->well_formed_calls = well_formed.calls();
  o->well_formed_created = well_formed.created();
  o->well_formed_failures = well_formed.failures();
  o->well_formed_slowest = well_formed.slowest();
  o->idle = &idle_;
  o->half = &half_;
}

void AbuseE2eTest::Collect(const ServerState& before, size_t log_before,
                           Outcome* o) {
  auto health = server_->Health();
  o->health =
      !server_->process().Running() ? "exited"
      : !health.ok()
          ? health.status().ToString()
          : grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*health);
  const ServerState after = State();
  o->rows_before = before.rows.size();
  o->rows_after = after.rows.size();
  o->unexplained_rows = UnexplainedRowChanges(before.rows, after.rows,
                                              o->well_formed_created, o->calls);
  const absl::Time stop_start = absl::Now();
  o->exit_code = server_->process().Stop(SIGTERM);
  o->shutdown_took = absl::Now() - stop_start;
  o->log = AnalyzeLog(
      absl::string_view(server_->process().Log()).substr(log_before));
}

TEST_F(AbuseE2eTest, HostileClientsGetAnswersAndLeaveNoTrace) {
  const absl::Time start = absl::Now();
  Outcome o;
  o.seed = Seed();
  o.handshake_flag = handshake_flag_;
  EXPECT_TRUE(handshake_flag_)
      << "user_server --help lists no --handshake-timeout: connections that "
         "never finish the HTTP/2 handshake stay open for gRPC's default";
  const CallPlan plan(Methods(), o.seed);
  ASSERT_GT(seed_id_, 0u);
  o.withheld = plan.withheld();
  absl::SleepFor(absl::Seconds(1));  // settles after the first calls
  const ServerState before = State();
  const size_t log_before = server_->process().Log().size();
  RunAbuse(plan, before, &o);
  Collect(before, log_before, &o);
  o.elapsed = absl::Now() - start;
  PrintSummary(o);

  EXPECT_EQ(o.health, "SERVING");
  EXPECT_EQ(o.exit_code, 0);
  // Every call answered before its deadline; no error quotes an email.
  EXPECT_EQ(o.calls.hung, 0) << absl::StrJoin(o.calls.examples, "\n");
  EXPECT_EQ(o.calls.echoed, 0) << absl::StrJoin(o.calls.examples, "\n");
  // An answer that quotes a huge field back is one no client can receive.
  EXPECT_EQ(o.calls.unreadable, 0) << absl::StrJoin(o.calls.examples, "\n");
  // A request that cannot be parsed is the client's mistake.
  EXPECT_EQ(o.calls.by_code.count("INTERNAL"), 0u)
      << o.calls.by_code["INTERNAL"] << " calls ended INTERNAL";
  EXPECT_EQ(o.calls.by_code.count("UNKNOWN"), 0u);
  // The well-formed client never noticed; garbage wrote nothing.
  EXPECT_TRUE(o.well_formed_failures.empty())
      << absl::StrJoin(o.well_formed_failures, "\n");
  EXPECT_FALSE(o.well_formed_created.empty());
  EXPECT_TRUE(o.unexplained_rows.empty())
      << absl::StrJoin(o.unexplained_rows, ", ");
  // Connections that never become useful are closed by the server.
  const absl::Duration held_for = kHandshakeTimeout + kHandshakeMargin;
  EXPECT_EQ(idle_.closed_by_server(), idle_.count())
      << "idle connections still open after " << held_for;
  EXPECT_EQ(half_.closed_by_server(), half_.count())
      << "half-handshake connections still open after " << held_for;
  // No client's mistake is logged as an error, or floods the log. A line
  // without a level is not the JSON the log pipeline expects (a request id
  // or library text that broke out of its quotes).
  std::string errors;
  for (const auto& [message, count] : o.log.errors) {
    absl::StrAppend(&errors, count, "x ", message, "\n");
  }
  EXPECT_EQ(o.log.by_level.count("error"), 0u) << errors;
  EXPECT_EQ(o.log.by_level.count("unparsed"), 0u);
  EXPECT_LE(o.log.busiest_count, kMaxLinesPerKindAndSecond) << o.log.busiest;
  EXPECT_LE(o.log.bytes, kMaxLogBytes);
  // Memory and descriptors.
  EXPECT_LE(o.rss_peak - o.rss_before, kMaxRssGrowthKib * o.rss_scale);
  EXPECT_LE(o.rss_after - o.rss_first, kMaxRssSecondRoundKib * o.rss_scale);
  EXPECT_LE(o.fds_after.clients, o.fds_before.clients)
      << o.fds_after.ToString();
  EXPECT_LE(o.fds_after.other(), o.fds_before.other())
      << o.fds_after.ToString();
  EXPECT_LE(o.fds_after.database,
            o.fds_before.database + kMaxExtraDatabaseSockets);
}

}  // namespace
}  // namespace userservice::testing
