// The cutover command line: run the proxy, check a configuration, print help and version.
#include <cstring>
#include <iostream>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/scram.h"
#include "proxy/admin/admin_client.h"
#include "proxy/auth/check_backends.h"
#include "proxy/auth/credentials.h"
#include "proxy/base/config.h"
#include "proxy/base/log.h"
#include "proxy/migration/journal_command.h"
#include "proxy/server/server.h"
#include "proxy/verification/verify_command.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage =
    R"(cutover — a PostgreSQL wire-protocol proxy for zero-downtime database migrations

Usage:
  cutover run --config FILE      run the proxy (also: cutover --config FILE)
  cutover check-config FILE      validate FILE and the files it names (users, passwords,
                                 certificates), print the effective configuration
  cutover check-backends --config FILE [--user NAME] [--database NAME]
                                 log in to old and new as sessions will (TLS, credentials)
                                 and report each; NAME stands in for a client's where the
                                 configuration leaves backends.*.user/database empty
  cutover scram-verifier [--iterations N]
                                 read a password on stdin, print its SCRAM-SHA-256 verifier
                                 (for a users file or ALTER ROLE ... PASSWORD)
  cutover journal --config FILE inspect
                                 list the mirror-failure journal's records and any torn or
                                 corrupt ones (exit 1 if a record is corrupt)
  cutover journal --config FILE replay
                                 replay the journal into new while cutover is stopped (a
                                 running cutover replays by itself); what needs repair goes to
                                 the mismatch log and the open divergences (exit 1 if anything
                                 does, or new is down)
  cutover verify --config FILE --once [--table T]... [--row-level] [--user NAME]
                 [--database NAME]
                                 compare old and new table by table (every table, or each
                                 T, or verify.tables): one JSON line per difference on
                                 stdout, a summary on stderr; exit 0 when equal, 1 when
                                 not. With no cutover running it also opens and closes the
                                 open divergences (docs/verification.md). NAME stands in
                                 for backends.*.user/database where they are empty
  cutover ctl [--admin http://HOST:PORT] [--token-file FILE] COMMAND
                                 talk to a running cutover's admin port (default
                                 http://127.0.0.1:9187): status | readiness | divergences |
                                 ramp PERCENT | ramp +STEP | ramp -STEP | rollback | resume |
                                 promote [--force] | decommission | verify (start a
                                 verification pass) | verify-report (the latest pass); changes
                                 and verify need the token file
  cutover --help                 show this help
  cutover --version              show the version

Exit codes: 0 success, 1 failure (message on stderr), 2 bad usage.
The configuration reference is in docs/configuration.md.
)";

int usage_error(const std::string& message) {
  std::cerr << "cutover: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

int run_proxy(const std::string& config_path) {
  cutover::proxy::Config config;
  try {
    config = cutover::proxy::load_config_file(config_path);
  } catch (const cutover::proxy::ConfigError& e) {
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
  namespace log = cutover::proxy::log;
  log::configure(log::parse_level(config.log.level),
                 config.log.format == cutover::proxy::LogFormat::kJson ? log::Format::kJson
                                                                       : log::Format::kKeyValue);
  try {
    cutover::proxy::Server server(config, config_path);
    server.listen();
    log::info("started", {{"version", CUTOVER_VERSION}, {"config", config_path}});
    return server.run();
  } catch (const std::exception& e) {
    log::error("startup_failed", {{"error", e.what()}});
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
}

// Also loads the files the configuration names (users file, passwords, certificates), so a
// broken one is found before a restart rather than by it.
int check_config(const std::string& path) {
  try {
    auto config = cutover::proxy::load_config_file(path);
    cutover::proxy::load_secrets(config);
    std::cout << cutover::proxy::to_yaml(config);
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
}

// Prints PostgreSQL's verifier for the password on stdin (one trailing newline is dropped),
// so users files never need plain passwords.
int scram_verifier(const std::vector<std::string>& args) {
  int iterations = cutover::protocol::scram::kDefaultIterations;
  if (args.size() == 3 && args[1] == "--iterations") {
    try {
      iterations = std::stoi(args[2]);
    } catch (const std::exception&) {
      iterations = 0;
    }
    if (iterations < 1) return usage_error("--iterations needs a positive integer");
  } else if (args.size() != 1) {
    return usage_error("scram-verifier takes only --iterations N");
  }
  std::string password((std::istreambuf_iterator<char>(std::cin)), {});
  if (password.ends_with('\n')) password.pop_back();
  if (password.ends_with('\r')) password.pop_back();
  std::random_device random;  // getrandom(2)
  std::string salt(cutover::protocol::scram::kDefaultSaltBytes, '\0');
  for (char& c : salt) c = static_cast<char>(random());
  auto verifier = cutover::protocol::scram::make_verifier(password, salt, iterations);
  if (!verifier) {
    std::cerr << "cutover: the password must be non-empty printable ASCII (SASLprep of other "
                 "characters is not implemented)\n";
    return kExitFailure;
  }
  std::cout << cutover::protocol::scram::format_verifier(*verifier) << "\n";
  return kExitOk;
}

// check-backends --config FILE [--user NAME] [--database NAME]
int check_backends(const std::vector<std::string>& args) {
  std::string config_path;
  std::string user = "postgres";
  std::string database;
  for (size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return usage_error(args[i] + " needs a value");
    if (args[i] == "--config") {
      config_path = args[i + 1];
    } else if (args[i] == "--user") {
      user = args[i + 1];
    } else if (args[i] == "--database") {
      database = args[i + 1];
    } else {
      return usage_error("check-backends does not take " + args[i]);
    }
  }
  if (config_path.empty()) return usage_error("check-backends needs --config FILE");
  try {
    auto config = cutover::proxy::load_config_file(config_path);
    bool ok =
        cutover::proxy::check_backends(config, user, database.empty() ? user : database, std::cout);
    return ok ? kExitOk : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
}

// journal --config FILE inspect|replay
int journal(const std::vector<std::string>& args) {
  if (args.size() != 4 || args[1] != "--config") {
    return usage_error("journal takes --config FILE and a subcommand (inspect or replay)");
  }
  if (args[3] != "inspect" && args[3] != "replay") {
    return usage_error("unknown journal subcommand '" + args[3] + "'");
  }
  try {
    auto config = cutover::proxy::load_config_file(args[2]);
    const bool ok = args[3] == "inspect" ? cutover::proxy::inspect_journal(config, std::cout)
                                         : cutover::proxy::replay_journal(config, std::cout);
    return ok ? kExitOk : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
}

// verify --config FILE --once [--table T]... [--row-level] [--user NAME] [--database NAME]
int verify(const std::vector<std::string>& args) {
  std::string config_path;
  bool once = false;
  cutover::proxy::VerifyOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--once") {
      once = true;
      continue;
    }
    if (args[i] == "--row-level") {
      options.row_level = true;
      continue;
    }
    if (i + 1 >= args.size()) return usage_error(args[i] + " needs a value");
    const std::string& value = args[++i];
    if (args[i - 1] == "--config") {
      config_path = value;
    } else if (args[i - 1] == "--table") {
      options.tables.push_back(value);
    } else if (args[i - 1] == "--user") {
      options.user = value;
    } else if (args[i - 1] == "--database") {
      options.database = value;
    } else {
      return usage_error("verify does not take " + args[i - 1]);
    }
  }
  if (config_path.empty()) return usage_error("verify needs --config FILE");
  if (!once) {
    return usage_error("verify needs --once (continuous background verification is not built yet)");
  }
  try {
    auto config = cutover::proxy::load_config_file(config_path);
    const bool equal = cutover::proxy::verify_once(config, options, std::cout, std::cerr);
    return equal ? kExitOk : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "cutover: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::span<char*> argument_span(argv, static_cast<size_t>(argc));
  std::vector<std::string> args(argument_span.begin() + 1, argument_span.end());
  if (args.empty()) return usage_error("no command given");
  const std::string& command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "--version") {
    std::cout << "cutover " << CUTOVER_VERSION << "\n";
    return kExitOk;
  }
  if (command == "scram-verifier") return scram_verifier(args);
  if (command == "check-backends") return check_backends(args);
  if (command == "journal") return journal(args);
  if (command == "verify") return verify(args);
  if (command == "ctl") {
    return cutover::proxy::run_ctl({args.begin() + 1, args.end()}, std::cout, std::cerr);
  }
  if (command == "check-config") {
    if (args.size() != 2) return usage_error("check-config takes exactly one FILE");
    return check_config(args[1]);
  }
  size_t config_at = command == "run" ? 1 : 0;
  if (args.size() == config_at + 2 && args[config_at] == "--config") {
    return run_proxy(args[config_at + 1]);
  }
  if (command == "run") return usage_error("run needs --config FILE");
  return usage_error("unknown command '" + command + "'");
}
