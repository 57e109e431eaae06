#include "server/app/endpoints.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

// --- ParseEndpoint -------------------------------------------------------

TEST(ParseEndpointTest, HostAndPort) {
  absl::StatusOr<mysql::Endpoint> endpoint =
      ParseEndpoint("primary", "db-0.db.svc:3306");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->name, "primary");
  EXPECT_EQ(endpoint->host, "db-0.db.svc");
  EXPECT_EQ(endpoint->port, 3306);
}

TEST(ParseEndpointTest, Ipv4AndPortBoundaries) {
  absl::StatusOr<mysql::Endpoint> low = ParseEndpoint("primary", "127.0.0.1:1");
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->host, "127.0.0.1");
  EXPECT_EQ(low->port, 1);

  absl::StatusOr<mysql::Endpoint> high = ParseEndpoint("primary", "db:65535");
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(high->port, 65535);
}

TEST(ParseEndpointTest, BracketedIpv6) {
  absl::StatusOr<mysql::Endpoint> endpoint =
      ParseEndpoint("primary", "[::1]:3306");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 3306);

  endpoint = ParseEndpoint("primary", "[fd00:0:0:1::5]:3307");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "fd00:0:0:1::5");
  EXPECT_EQ(endpoint->port, 3307);
}

TEST(ParseEndpointTest, SurroundingWhitespaceIsIgnored) {
  absl::StatusOr<mysql::Endpoint> endpoint =
      ParseEndpoint("primary", "  db:3306 \n");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "db");
  EXPECT_EQ(endpoint->port, 3306);
}

TEST(ParseEndpointTest, RejectsMalformedEndpoints) {
  for (const std::string text :
       {"db", "db:", "db:0", "db:65536", "db:99999999999", "db:abc", "db:33o6",
        "db:-1", ":3306", "[]:3306", "[::1:3306", "", "   "}) {
    SCOPED_TRACE(text);
    absl::StatusOr<mysql::Endpoint> endpoint = ParseEndpoint("primary", text);
    ASSERT_FALSE(endpoint.ok())
        << "parsed as " << endpoint->host << " port " << endpoint->port;
    EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(endpoint.status().message(), HasSubstr("primary"));
  }
}

TEST(ParseEndpointTest, ErrorNamesTheEndpointAndTheText) {
  absl::Status status = ParseEndpoint("replica-3", "db.example:0").status();
  EXPECT_THAT(status.message(), HasSubstr("replica-3"));
  EXPECT_THAT(status.message(), HasSubstr("db.example:0"));
  EXPECT_THAT(status.message(), HasSubstr("port"));
}

// An IPv6 address must be bracketed (see endpoints.h); without brackets and
// a port, "::1" must not be read as host ":" and port 1.
TEST(ParseEndpointTest, RejectsUnbracketedIpv6WithoutPort) {
  absl::StatusOr<mysql::Endpoint> endpoint = ParseEndpoint("primary", "::1");
  EXPECT_FALSE(endpoint.ok())
      << "parsed as host \"" << endpoint->host << "\" port " << endpoint->port;
}

// --- ParseReplicas -------------------------------------------------------

std::vector<std::string> Names(const std::vector<mysql::Endpoint>& endpoints) {
  std::vector<std::string> names;
  for (const mysql::Endpoint& e : endpoints) names.push_back(e.name);
  return names;
}

TEST(ParseReplicasTest, EmptyMeansNoReplicas) {
  for (const char* text : {"", "   ", ",", " , ,"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<std::vector<mysql::Endpoint>> replicas = ParseReplicas(text);
    ASSERT_TRUE(replicas.ok()) << replicas.status();
    EXPECT_TRUE(replicas->empty());
  }
}

TEST(ParseReplicasTest, UnnamedReplicasAreNumberedInOrder) {
  absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
      ParseReplicas("db-1:3306,db-2:3307,[::1]:3308");
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  ASSERT_EQ(replicas->size(), 3u);
  EXPECT_THAT(Names(*replicas),
              ::testing::ElementsAre("replica-0", "replica-1", "replica-2"));
  EXPECT_EQ((*replicas)[0].host, "db-1");
  EXPECT_EQ((*replicas)[0].port, 3306);
  EXPECT_EQ((*replicas)[1].host, "db-2");
  EXPECT_EQ((*replicas)[1].port, 3307);
  EXPECT_EQ((*replicas)[2].host, "::1");
  EXPECT_EQ((*replicas)[2].port, 3308);
}

TEST(ParseReplicasTest, NamedReplicas) {
  absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
      ParseReplicas("east=db-east:3306,west.1=db-west:3307");
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  ASSERT_EQ(replicas->size(), 2u);
  EXPECT_EQ((*replicas)[0].name, "east");
  EXPECT_EQ((*replicas)[0].host, "db-east");
  EXPECT_EQ((*replicas)[1].name, "west.1");
  EXPECT_EQ((*replicas)[1].port, 3307);
}

TEST(ParseReplicasTest, MixedNamesKeepPositionalNumbers) {
  absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
      ParseReplicas("a:1,west=b:2,c:3");
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  EXPECT_THAT(Names(*replicas),
              ::testing::ElementsAre("replica-0", "west", "replica-2"));
}

TEST(ParseReplicasTest, WhitespaceIsTolerated) {
  absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
      ParseReplicas("  db-1:3306 ,  east = db-2:3307 , ");
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  ASSERT_EQ(replicas->size(), 2u);
  EXPECT_EQ((*replicas)[0].name, "replica-0");
  EXPECT_EQ((*replicas)[0].host, "db-1");
  EXPECT_EQ((*replicas)[1].name, "east");
  EXPECT_EQ((*replicas)[1].host, "db-2");
  EXPECT_EQ((*replicas)[1].port, 3307);
}

TEST(ParseReplicasTest, RejectsDuplicateNames) {
  for (const char* text :
       {"x=a:1,x=b:2", "a:1,replica-0=b:2", "replica-1=a:1,b:2"}) {
    SCOPED_TRACE(text);
    absl::Status status = ParseReplicas(text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("twice"));
  }
}

TEST(ParseReplicasTest, RejectsPrimaryAsAName) {
  for (const char* text : {"primary=a:1", "a:1, primary = b:2"}) {
    SCOPED_TRACE(text);
    absl::Status status = ParseReplicas(text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("\"primary\""));
  }
}

TEST(ParseReplicasTest, RejectsBadNames) {
  for (const std::string& text : std::vector<std::string>{
           "=a:1", " =a:1", "bad name=a:1", "a/b=a:1", "a:b=c:1",
           "caf\xC3\xA9=a:1", absl::StrCat(std::string(64, 'n'), "=a:1")}) {
    SCOPED_TRACE(text);
    absl::Status status = ParseReplicas(text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("--replicas"));
  }
  absl::StatusOr<std::vector<mysql::Endpoint>> longest =
      ParseReplicas(absl::StrCat(std::string(63, 'n'), "=a:1"));
  ASSERT_TRUE(longest.ok()) << longest.status();
  EXPECT_EQ((*longest)[0].name, std::string(63, 'n'));
}

TEST(ParseReplicasTest, RejectsBadEndpoints) {
  for (const char* text : {"db", "a:1,db", "east=db:0", "east=", "a:1,:2"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseReplicas(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseReplicasTest, ErrorNamesTheReplica) {
  absl::Status status = ParseReplicas("a:1,b").status();
  EXPECT_THAT(status.message(), HasSubstr("replica-1"));
  status = ParseReplicas("east=db:99999").status();
  EXPECT_THAT(status.message(), HasSubstr("east"));
}

}  // namespace
}  // namespace userservice
