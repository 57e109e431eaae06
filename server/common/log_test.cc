#include "server/common/log.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"

namespace userservice::log {
namespace {

// A real JSON parser (protobuf's) decides whether a line is valid JSON.
google::protobuf::Struct Parse(absl::string_view line) {
  google::protobuf::Struct parsed;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(line), &parsed);
  EXPECT_TRUE(status.ok()) << status << " in: " << line;
  return parsed;
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonQuote("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(JsonQuote(absl::string_view("\x01\x1f\x7f", 3)),
            R"("\u0001\u001f\u007f")");
  EXPECT_EQ(JsonQuote(absl::string_view("nul\0x", 5)), R"("nul\u0000x")");
}

TEST(JsonQuoteTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Stray continuation byte, truncated sequence, overlong '/', surrogate,
  // beyond U+10FFFF, and bytes that never start a sequence.
  EXPECT_EQ(JsonQuote("a\x80z"), R"("a\ufffdz")");
  EXPECT_EQ(JsonQuote("a\xe2\x82"), R"("a\ufffd\ufffd")");
  EXPECT_EQ(JsonQuote("\xc0\xaf"), R"("\ufffd\ufffd")");
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(JsonQuote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
  EXPECT_EQ(JsonQuote("\xff\xfe"), R"("\ufffd\ufffd")");
}

TEST(FormatLineTest, TimeLevelMessageThenFieldsInOrder) {
  const int64_t micros = absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 11, 24, 1, 2, 3),
                      absl::UTCTimeZone()) +
      absl::Microseconds(4005));
  EXPECT_EQ(FormatLine(micros, Level::kWarning, "call failed",
                       {{"method", "GetUser"}, {"code", "UNAVAILABLE"}}),
            "{\"time\":\"2026-11-24T01:02:03.004005Z\",\"level\":\"warning\","
            "\"message\":\"call failed\",\"method\":\"GetUser\","
            "\"code\":\"UNAVAILABLE\"}\n");
  // The cached second is not reused for another second.
  EXPECT_NE(FormatLine(micros + 1000000, Level::kInfo, "m", {})
                .find("\"time\":\"2026-11-24T01:02:04.004005Z\""),
            std::string::npos);
}

TEST(FormatLineTest, NumbersAreUnquotedAndAlwaysValidJson) {
  const std::string line =
      FormatLine(0, Level::kInfo, "rpc",
                 {{"duration_ms", Number(1.25)},
                  {"count", Number(42)},
                  {"nan", Number(std::numeric_limits<double>::quiet_NaN())},
                  {"inf", Number(std::numeric_limits<double>::infinity())}});
  EXPECT_NE(line.find("\"duration_ms\":1.25,\"count\":42,\"nan\":null,"
                      "\"inf\":null}"),
            std::string::npos)
      << line;
  const google::protobuf::Struct parsed = Parse(line);
  EXPECT_EQ(parsed.fields().at("duration_ms").number_value(), 1.25);
  EXPECT_EQ(parsed.fields().at("time").string_value(),
            "1970-01-01T00:00:00.000000Z");
}

TEST(FormatLineTest, AnyBytesStillMakeOneValidJsonLine) {
  std::string hostile;
  for (int c = 0; c < 256; ++c) hostile.push_back(static_cast<char>(c));
  const std::string line =
      FormatLine(123456789, Level::kError, hostile, {{hostile, hostile}});
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const google::protobuf::Struct parsed = Parse(line);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "error");
  EXPECT_EQ(parsed.fields_size(), 4);
}

TEST(FormatLineTest, CutsOverlongValues) {
  const std::string line =
      FormatLine(0, Level::kInfo, "m", {{"big", std::string(100000, 'x')}});
  EXPECT_LT(line.size(), 4096u);
  EXPECT_NE(line.find("...(cut)"), std::string::npos);
  Parse(line);
}

TEST(WriteTest, LevelGating) {
  LogCapture capture;
  SetMinLevel(Level::kWarning);
  Info("hidden");
  Warning("shown", {{"k", "v"}});
  SetMinLevel(Level::kInfo);
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Parse(lines[0]).fields().at("message").string_value(), "shown");
}

TEST(WriteTest, ConcurrentWritersNeverInterleaveLines) {
  LogCapture capture;
  constexpr int kThreads = 8;
  constexpr int kLines = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      // Long enough that a torn write would show, short of the value cap.
      const std::string payload(2000, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) {
        Info("line", {{"thread", absl::StrCat(t)}, {"payload", payload}});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  for (const std::string& line : lines) {
    const google::protobuf::Struct parsed = Parse(line);
    const int t = std::stoi(parsed.fields().at("thread").string_value());
    EXPECT_TRUE(parsed.fields().at("payload").string_value() ==
                std::string(2000, static_cast<char>('a' + t)))
        << "thread " << t;
  }
}

TEST(WriteTest, BatchingHoldsInfoLinesUntilAFlushOrAWarning) {
  LogCapture capture;
  SetBatching(absl::Hours(1));
  Info("first");
  Debug("not written at info");
  Info("second");
  EXPECT_EQ(capture.Lines().size(), 0u);
  Warning("third");  // takes the waiting lines with it, in order
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Parse(lines[0]).fields().at("message").string_value(), "first");
  EXPECT_EQ(Parse(lines[1]).fields().at("message").string_value(), "second");
  EXPECT_EQ(Parse(lines[2]).fields().at("message").string_value(), "third");
  Info("fourth");
  EXPECT_EQ(capture.Lines().size(), 3u);
  Flush();
  EXPECT_EQ(capture.Lines().size(), 4u);
  // The flusher thread writes within the delay.
  SetBatching(absl::Milliseconds(20));
  Info("fifth");
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(capture.Lines().size(), 5u);
  SetBatching(absl::ZeroDuration());
  Info("sixth");
  EXPECT_EQ(capture.Lines().size(), 6u);
}

TEST(ParseLevelTest, AcceptsTheFourNamesAndWarn) {
  Level level;
  ASSERT_TRUE(ParseLevel("DEBUG", &level));
  EXPECT_EQ(level, Level::kDebug);
  ASSERT_TRUE(ParseLevel("warn", &level));
  EXPECT_EQ(level, Level::kWarning);
  ASSERT_TRUE(ParseLevel("error", &level));
  EXPECT_EQ(level, Level::kError);
  EXPECT_FALSE(ParseLevel("verbose", &level));
}

}  // namespace
}  // namespace userservice::log
