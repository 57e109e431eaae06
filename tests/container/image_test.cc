// The container image (deploy/docker/Dockerfile, built by
// deploy/docker/build-image.sh, which tests/run.sh runs first) run with
// podman the way deploy/k8s/base runs it: the Deployment's user, read-only
// root filesystem, capabilities, privilege escalation, limits, tmpfs /tmp,
// ConfigMap environment and Secret, as deployment_to_podman.py translates
// them, against the test cluster. Fails, never skips, when podman or the
// image is missing.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/process.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

const std::string kSource = USERSERVICE_SOURCE_DIR;
const std::string kPodmanSh = kSource + "/deploy/docker/podman.sh";

// `script` run by bash with deploy/docker/podman.sh sourced (its `pod`,
// POD_CONTAINER_ARGS, image_tag) and `args` as "$@".
CommandResult WithPodman(const std::string& script,
                         const std::vector<std::string>& args,
                         absl::Duration timeout = absl::Seconds(60)) {
  std::vector<std::string> argv = {"/bin/bash", "-c", ". \"$0\" && " + script,
                                   kPodmanSh};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

CommandResult Podman(const std::vector<std::string>& args,
                     absl::Duration timeout = absl::Seconds(60)) {
  return WithPodman("pod \"$@\"", args, timeout);
}

std::string Describe(const CommandResult& result) {
  return absl::StrCat("exit ", result.exit_code, "\nstdout: ", result.out,
                      "\nstderr: ", result.err);
}

// deploy/k8s/base's user-server container, as deployment_to_podman.py
// prints it.
struct DeploymentSpec {
  std::vector<std::string> flags;
  std::map<std::string, std::string> env;
  std::string secret_path;
  mode_t secret_mode = 0;
  int grace_seconds = 0;
  std::vector<std::string> prestop;
  struct Probe {
    int port = 0;
    std::string service;
  };
  std::map<std::string, Probe> probes;  // by kind: startup, readiness, ...
};

absl::StatusOr<DeploymentSpec> ReadDeploymentSpec() {
  CommandResult result = RunCommand(
      {"/usr/bin/python3", kSource + "/tests/container/deployment_to_podman.py",
       kSource});
  if (result.exit_code != 0) {
    return absl::InternalError("deployment_to_podman.py: " + Describe(result));
  }
  DeploymentSpec spec;
  for (absl::string_view line : absl::StrSplit(result.out, '\n')) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const std::string& value = kv.second;
    if (kv.first == "flag") {
      spec.flags.push_back(value);
    } else if (kv.first == "env") {
      std::pair<std::string, std::string> env =
          absl::StrSplit(value, absl::MaxSplits('=', 1));
      spec.env[env.first] = env.second;
    } else if (kv.first == "secret") {
      std::pair<std::string, std::string> secret =
          absl::StrSplit(value, absl::MaxSplits(' ', 1));
      spec.secret_path = secret.first;
      spec.secret_mode = std::stoi(secret.second, nullptr, 8);
    } else if (kv.first == "grace") {
      spec.grace_seconds = std::stoi(value);
    } else if (kv.first == "prestop") {
      spec.prestop = absl::StrSplit(value, ' ');
    } else if (kv.first == "probe") {
      std::vector<std::string> parts =
          absl::StrSplit(value, absl::MaxSplits(' ', 2));
      if (parts.size() != 3) continue;
      spec.probes[parts[0]] = {std::stoi(parts[1]), parts[2]};
    }
  }
  return spec;
}

// The image under test: tests/run.sh passes the ID of the one it built
// (USERSERVICE_TEST_IMAGE); else the tag build-image.sh gives.
absl::StatusOr<std::string> ImageUnderTest() {
  const char* id = std::getenv("USERSERVICE_TEST_IMAGE");
  if (id != nullptr && *id != '\0') return std::string(id);
  CommandResult result = WithPodman("image_tag", {});
  if (result.exit_code != 0) {
    return absl::InternalError("image_tag: " + Describe(result));
  }
  return std::string(absl::StripAsciiWhitespace(result.out));
}

// The port of a HOST:PORT address.
int PortOf(const std::string& address) {
  int port = 0;
  absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port);
  return port;
}

// A directory holding the database password as the kubelet mounts a Secret:
// the key as a file, group-owned by fsGroup (10001) with the Secret's mode.
absl::StatusOr<std::string> MakeSecretDir(const DeploymentSpec& spec) {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/db-secret-", getpid());
  mkdir(dir.c_str(), 0755);
  const std::string file = dir + "/" +
                           spec.env.at("USER_SERVICE_DB_PASSWORD_FILE")
                               .substr(spec.secret_path.size() + 1);
  std::ofstream(file) << TestCluster::Get().AppPassword();
  if (chown(file.c_str(), 0, 10001) != 0 && geteuid() == 0) {
    return absl::InternalError("chown of the secret file failed");
  }
  chmod(file.c_str(), geteuid() == 0 ? spec.secret_mode : 0444);
  return dir;
}

// One container of the image, started detached with the Deployment's
// settings and this test's addresses; removed on destruction.
class Container {
 public:
  static absl::StatusOr<std::unique_ptr<Container>> Start(
      const std::string& image, const DeploymentSpec& spec,
      const std::string& secret_dir) {
    static int count = 0;
    auto container = std::unique_ptr<Container>(new Container());
    container->name_ =
        absl::StrCat("userservice-test-", getpid(), "-", ++count);
    container->grpc_port_ = FreePort();
    container->metrics_port_ = FreePort();
    std::vector<std::string> args = {"-d", "--name=" + container->name_};
    args.insert(args.end(), spec.flags.begin(), spec.flags.end());
    args.push_back(
        absl::StrCat("--volume=", secret_dir, ":", spec.secret_path, ":ro"));
    for (const auto& [name, value] : container->Environment(spec)) {
      args.push_back(absl::StrCat("--env=", name, "=", value));
    }
    args.push_back(image);
    CommandResult run =
        WithPodman("pod run \"${POD_CONTAINER_ARGS[@]}\" \"$@\"", args);
    if (run.exit_code != 0) {
      return absl::InternalError("podman run: " + Describe(run));
    }
    container->channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", container->grpc_port_),
                            grpc::InsecureChannelCredentials());
    return container;
  }

  ~Container() { Podman({"rm", "--force", "--time=0", name_}); }

  const std::string& name() const { return name_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  grpc::Channel& channel() { return *channel_; }

  absl::StatusOr<HealthCheckResponse::ServingStatus> Health(
      const std::string& service) {
    return CheckHealth(*channel_, service);
  }
  bool WaitUntilServing(const std::string& service, absl::Duration timeout) {
    return WaitFor(
        timeout,
        [&]() {
          absl::StatusOr<HealthCheckResponse::ServingStatus> status =
              Health(service);
          return status.ok() && *status == HealthCheckResponse::SERVING;
        },
        absl::Milliseconds(200));
  }

  // `podman inspect --format FORMAT`, trimmed.
  std::string Inspect(const std::string& format) {
    CommandResult result = Podman({"inspect", "--format", format, name_});
    return std::string(absl::StripAsciiWhitespace(result.out));
  }
  std::string Logs() { return Podman({"logs", name_}).err; }

 private:
  Container() = default;

  // The ConfigMap's environment with the addresses of this test: the test
  // cluster, and free ports since the container shares the host's network.
  std::map<std::string, std::string> Environment(const DeploymentSpec& spec) {
    TestCluster& cluster = TestCluster::Get();
    std::map<std::string, std::string> env = spec.env;
    env["USER_SERVICE_LISTEN"] = absl::StrCat("127.0.0.1:", grpc_port_);
    env["USER_SERVICE_METRICS_LISTEN"] =
        absl::StrCat("127.0.0.1:", metrics_port_);
    env["USER_SERVICE_PRIMARY"] = cluster.primary();
    env["USER_SERVICE_REPLICAS"] = cluster.replicas_flag();
    env["USER_SERVICE_DB_NAME"] = cluster.db_name();
    env["USER_SERVICE_DB_USER"] = cluster.db_user();
    return env;
  }

  std::string name_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

class ImageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCluster::Get();
    CommandResult podman = WithPodman("require_podman", {});
    ASSERT_EQ(podman.exit_code, 0)
        << "podman cannot run containers here: " << podman.err;
    absl::StatusOr<std::string> image = ImageUnderTest();
    ASSERT_TRUE(image.ok()) << image.status();
    CommandResult exists = Podman({"image", "exists", *image});
    ASSERT_EQ(exists.exit_code, 0)
        << "no image " << *image
        << ": build it with deploy/docker/build-image.sh (tests/run.sh does)";
    absl::StatusOr<DeploymentSpec> spec = ReadDeploymentSpec();
    ASSERT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<std::string> secret_dir = MakeSecretDir(*spec);
    ASSERT_TRUE(secret_dir.ok()) << secret_dir.status();
    image_ = new std::string(*image);
    spec_ = new DeploymentSpec(*std::move(spec));
    secret_dir_ = new std::string(*secret_dir);
  }

  static void TearDownTestSuite() {
    delete image_;
    delete spec_;
    delete secret_dir_;
  }

  // A container of the image, serving: what the startup probe waits for.
  std::unique_ptr<Container> StartServing() {
    absl::StatusOr<std::unique_ptr<Container>> container =
        Container::Start(*image_, *spec_, *secret_dir_);
    EXPECT_TRUE(container.ok()) << container.status();
    if (!container.ok()) return nullptr;
    const absl::Duration startup = absl::Seconds(90);
    if (!(*container)->WaitUntilServing("", startup)) {
      ADD_FAILURE() << "not SERVING within " << startup << "; logs:\n"
                    << (*container)->Logs();
      return nullptr;
    }
    return *std::move(container);
  }

  // userctl from the image, with the container's security settings (as
  // `kubectl exec` would run it in the pod), against `container`.
  CommandResult Userctl(Container& container,
                        const std::vector<std::string>& command) {
    std::vector<std::string> args = {"--rm"};
    args.insert(args.end(), spec_->flags.begin(), spec_->flags.end());
    args.push_back("--entrypoint=/usr/local/bin/userctl");
    args.push_back(*image_);
    args.push_back(absl::StrCat("--addr=127.0.0.1:", container.grpc_port()));
    args.insert(args.end(), command.begin(), command.end());
    return WithPodman("pod run \"${POD_CONTAINER_ARGS[@]}\" \"$@\"", args);
  }

  static std::string* image_;
  static DeploymentSpec* spec_;
  static std::string* secret_dir_;
};

std::string* ImageTest::image_ = nullptr;
DeploymentSpec* ImageTest::spec_ = nullptr;
std::string* ImageTest::secret_dir_ = nullptr;

// What a path in the image's filesystem is, if it must not be there: a
// compiler or build tool, a package manager cache, or shell history.
std::string Forbidden(const std::string& path) {
  static const std::regex kCompiler(
      R"(^(\./)?usr/(local/)?bin/((x86_64-linux-gnu-)?(gcc|g\+\+|cc|c\+\+|cpp|as|ld|ld\.bfd|ld\.gold)(-[0-9.]+)?|clang(\+\+)?(-[0-9]+)?|make|cmake|ninja)$|/cc1(plus)?$)");
  static const std::regex kPackageCache(
      R"(^(\./)?var/(cache/apt/(archives/.*\.deb|[^/]*\.bin)|lib/apt/lists/[^/]+)$)");
  static const std::regex kHistory(R"((^|/)\.[^/]*(_history|hst)$)");
  if (std::regex_search(path, kCompiler)) return "a compiler or build tool";
  if (std::regex_search(path, kPackageCache) &&
      !absl::EndsWith(path, "/lock")) {
    return "a package manager cache";
  }
  if (std::regex_search(path, kHistory)) return "shell history";
  return "";
}

TEST(ImageFilesTest, ForbiddenKnowsWhatMustNotBeInTheImage) {
  EXPECT_EQ(Forbidden("usr/bin/gcc-12"), "a compiler or build tool");
  EXPECT_EQ(Forbidden("./usr/bin/x86_64-linux-gnu-g++-12"),
            "a compiler or build tool");
  EXPECT_EQ(Forbidden("usr/lib/gcc/x86_64-linux-gnu/12/cc1plus"),
            "a compiler or build tool");
  EXPECT_EQ(Forbidden("var/cache/apt/archives/libc6_2.36_amd64.deb"),
            "a package manager cache");
  EXPECT_EQ(Forbidden("var/cache/apt/pkgcache.bin"), "a package manager cache");
  EXPECT_EQ(Forbidden("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm"
                      "_InRelease"),
            "a package manager cache");
  EXPECT_EQ(Forbidden("root/.bash_history"), "shell history");
  EXPECT_EQ(Forbidden("root/.lesshst"), "shell history");
  EXPECT_EQ(Forbidden("var/lib/apt/lists/lock"), "");
  EXPECT_EQ(Forbidden("var/lib/apt/lists/"), "");
  EXPECT_EQ(Forbidden("usr/local/bin/user_server"), "");
  EXPECT_EQ(Forbidden("usr/lib/x86_64-linux-gnu/libgcc_s.so.1"), "");
  EXPECT_EQ(Forbidden("usr/bin/sleep"), "");
}

TEST_F(ImageTest, HoldsTheBinariesAndNoCompilerPackageCacheOrShellHistory) {
  CommandResult listing = WithPodman(
      "c=$(pod create \"$1\") && trap 'pod rm \"$c\" >/dev/null' EXIT && "
      "pod export \"$c\" | tar -t",
      {*image_}, absl::Seconds(180));
  ASSERT_EQ(listing.exit_code, 0) << Describe(listing);
  std::vector<std::string> paths = absl::StrSplit(listing.out, '\n');
  int binaries = 0;
  for (const std::string& path : paths) {
    EXPECT_EQ(Forbidden(path), "") << path;
    if (absl::EndsWith(path, "usr/local/bin/user_server") ||
        absl::EndsWith(path, "usr/local/bin/userctl")) {
      ++binaries;
    }
  }
  EXPECT_EQ(binaries, 2) << "user_server and userctl in /usr/local/bin";

  CommandResult size =
      Podman({"image", "inspect", "--format", "{{.Size}}", *image_});
  ASSERT_EQ(size.exit_code, 0) << Describe(size);
  double bytes = 0;
  ASSERT_TRUE(absl::SimpleAtod(absl::StripAsciiWhitespace(size.out), &bytes));
  std::cout << "[ image    ] " << *image_ << ": " << paths.size() << " paths, "
            << absl::StrFormat("%.1f", bytes / 1e6) << " MB\n";
  RecordProperty("image_size_bytes", absl::StrCat(bytes));
}

// /proc/PID/status of the container's server process, by field.
std::map<std::string, std::string> ProcessStatus(const std::string& pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string line; std::getline(in, line);) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    fields[kv.first] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  return fields;
}

TEST_F(ImageTest, RunsWithTheDeploymentsSecurityContext) {
  std::unique_ptr<Container> container = StartServing();
  ASSERT_NE(container, nullptr);
  const std::string pid = container->Inspect("{{.State.Pid}}");
  std::map<std::string, std::string> status = ProcessStatus(pid);
  ASSERT_EQ(status["Name"], "user_server") << "pid " << pid;
  // runAsUser/runAsGroup 10001, fsGroup as a supplementary group.
  EXPECT_EQ(status["Uid"], "10001\t10001\t10001\t10001");
  EXPECT_EQ(status["Gid"], "10001\t10001\t10001\t10001");
  EXPECT_EQ(status["Groups"], "10001");
  // capabilities.drop [ALL]; allowPrivilegeEscalation false; the
  // runtime's default seccomp filter.
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(status[set], "0000000000000000") << set;
  }
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");

  auto exec = [&](std::vector<std::string> command) {
    command.insert(command.begin(), {"exec", container->name()});
    return Podman(command);
  };
  // readOnlyRootFilesystem: only /tmp (a tmpfs, as the emptyDir) is
  // writable; the Secret is mounted read-only with its defaultMode.
  CommandResult root = exec({"/usr/bin/touch", "/usr/local/bin/written"});
  EXPECT_NE(root.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(root.err, "Read-only file system")) << root.err;
  CommandResult tmp = exec({"/usr/bin/touch", "/tmp/written"});
  EXPECT_EQ(tmp.exit_code, 0) << Describe(tmp);
  CommandResult tmpfs = exec({"/usr/bin/stat", "-f", "-c", "%T", "/tmp"});
  EXPECT_EQ(absl::StripAsciiWhitespace(tmpfs.out), "tmpfs") << Describe(tmpfs);
  const std::string password = spec_->env.at("USER_SERVICE_DB_PASSWORD_FILE");
  CommandResult secret = exec({"/usr/bin/stat", "-c", "%a %G", password});
  EXPECT_EQ(absl::StripAsciiWhitespace(secret.out), "440 userservice")
      << Describe(secret);
  CommandResult overwrite = exec({"/usr/bin/touch", password});
  EXPECT_NE(overwrite.exit_code, 0) << Describe(overwrite);
}

TEST_F(ImageTest, AnswersTheKubeletsGrpcProbes) {
  std::unique_ptr<Container> container = StartServing();
  ASSERT_NE(container, nullptr);
  const int listen_port = PortOf(spec_->env.at("USER_SERVICE_LISTEN"));
  ASSERT_EQ(spec_->probes.size(), 3u) << "startup, readiness and liveness";
  for (const auto& [kind, probe] : spec_->probes) {
    EXPECT_EQ(probe.port, listen_port) << kind << " probe";
    EXPECT_TRUE(container->WaitUntilServing(probe.service, absl::Seconds(30)))
        << kind << " probe, service \"" << probe.service
        << "\": " << container->Health(probe.service).status();
  }
  EXPECT_EQ(spec_->probes.at("readiness").service,
            "userservice.v1.UserService");
  EXPECT_EQ(spec_->probes.at("liveness").service, "");
}

TEST_F(ImageTest, UserctlFromTheImageCreatesGetsAndListsAndMetricsCountIt) {
  std::unique_ptr<Container> container = StartServing();
  ASSERT_NE(container, nullptr);
  const std::string name = UniqueUsername("image_");
  CommandResult created = Userctl(
      *container,
      {"create", "--username=" + name, "--email=" + name + "@example.com"});
  ASSERT_EQ(created.exit_code, 0) << Describe(created);
  const std::string id = UserctlId(created.out);
  ASSERT_FALSE(id.empty()) << created.out;
  CommandResult got = Userctl(*container, {"--consistency=strong", "get", id});
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_TRUE(absl::StrContains(got.out, "\"username\": \"" + name + "\""))
      << got.out;
  CommandResult listed = Userctl(*container, {"--consistency=strong", "list"});
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  EXPECT_TRUE(absl::StrContains(listed.out, name + "@example.com"));

  absl::StatusOr<MetricsScrape> scrape =
      MetricsScrape::Fetch(container->metrics_port());
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  for (const char* method : {"CreateUser", "GetUser", "ListUsers"}) {
    EXPECT_GE(scrape
                  ->Sum("grpc_server_handled_total",
                        {{"grpc_method", method}, {"grpc_code", "OK"}})
                  .value_or(0),
              1)
        << method;
  }
}

TEST_F(ImageTest, SigtermAfterPreStopEndsItWithExitCodeZeroWithinTheGrace) {
  std::unique_ptr<Container> container = StartServing();
  ASSERT_NE(container, nullptr);
  ASSERT_FALSE(spec_->prestop.empty()) << "the Deployment has a preStop hook";
  ASSERT_GT(spec_->grace_seconds, 0);
  // The kubelet runs preStop, then sends SIGTERM; the grace period covers
  // both before SIGKILL.
  const absl::Time start = absl::Now();
  std::vector<std::string> prestop = {"exec", container->name()};
  prestop.insert(prestop.end(), spec_->prestop.begin(), spec_->prestop.end());
  CommandResult hook = Podman(prestop);
  ASSERT_EQ(hook.exit_code, 0) << "preStop: " << Describe(hook);
  const absl::Time sigterm = absl::Now();
  CommandResult kill = Podman({"kill", "--signal=TERM", container->name()});
  ASSERT_EQ(kill.exit_code, 0) << Describe(kill);
  const absl::Duration grace = absl::Seconds(spec_->grace_seconds);
  CommandResult wait =
      Podman({"wait", container->name()}, grace - (absl::Now() - start));
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(wait.exit_code, 0) << "podman wait: " << Describe(wait);
  EXPECT_EQ(absl::StripAsciiWhitespace(wait.out), "0") << "exit code; logs:\n"
                                                       << container->Logs();
  EXPECT_LT(took, grace);
  std::cout << "[ shutdown ] preStop " << sigterm - start
            << ", SIGTERM to exit " << absl::Now() - sigterm << ": " << took
            << " of a " << grace << " grace period\n";
}

}  // namespace
}  // namespace userservice::testing
