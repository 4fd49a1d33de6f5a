// cutover's configuration: the typed settings and their loading from YAML.
// Not the live state (phase, ramp) an operator changes at run time.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "router/phase.h"

namespace cutover::proxy {

struct ListenConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 6432;
  uint32_t max_clients = 1000;
};

// How cutover protects its connection to a database; the names and meanings are libpq's
// sslmode (without "allow").
enum class SslMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };

struct BackendConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string database;       // empty: the database the client asked for
  std::string user;           // empty: the client's user name
  std::string password_file;  // cutover's password for `user`; empty: none (trust, cert)
  SslMode sslmode = SslMode::kPrefer;
  std::string sslrootcert;    // CA bundle for verify-ca/verify-full; empty: the system's
  std::string sslservername;  // name to verify and send as SNI; empty: `host`
};

struct BackendsConfig {
  BackendConfig old_db;
  BackendConfig new_db = [] {
    BackendConfig b;
    b.port = 5433;
    return b;
  }();
};

// Client-facing TLS. kAllow: TLS when the client asks for it; kRequire: plaintext is refused.
enum class TlsMode { kDisable, kAllow, kRequire };

struct TlsConfig {
  TlsMode mode = TlsMode::kDisable;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // when set, client certificates that are presented must chain to it
  std::string min_version = "TLSv1.2";       // TLSv1.2 | TLSv1.3
  std::string ciphers = "HIGH:!aNULL:!MD5";  // for TLS 1.2; TLS 1.3 suites are OpenSSL's
};

enum class AuthMethod { kScram, kMd5, kTrust, kPassthrough };

struct AuthConfig {
  AuthMethod method = AuthMethod::kScram;
  std::string users_file;  // "name" "secret" lines; secrets are SCRAM verifiers or md5 hashes
  std::string auth_query;  // run on old with $1 = user name when the users file has no entry
  // Clients from these networks ("127.0.0.1/32", "10.0.0.0/8", "::1/128") need no password.
  std::vector<std::string> trust_addresses;
  // Who runs auth_query on old; empty: backends.old's user and password file. Needs to read
  // pg_authid (superuser) or a SECURITY DEFINER function that does.
  std::string query_user;
  std::string query_password_file;
};

struct TimeoutsConfig {
  std::chrono::milliseconds backend_connect{5000};  // TCP connect to a database
  std::chrono::milliseconds client_startup{10000};  // client's startup and authentication
  std::chrono::milliseconds client_idle{0};         // no query in flight; 0 = never
  std::chrono::milliseconds shutdown{30000};        // SIGTERM drain deadline
};

struct LimitsConfig {
  // PostgreSQL itself accepts messages up to 1 GiB; a lower limit protects the proxy from
  // clients that announce huge messages.
  uint32_t max_message_bytes = 1u << 30;
  uint32_t buffer_bytes = 64 * 1024;  // per direction and session: the backpressure window
  // dual_write: an extended-query batch not whole yet waits this long for the client's next
  // bytes, up to batch_hold_bytes, so that it is pinned whole at its Sync (0: never held).
  std::chrono::milliseconds batch_hold{100};
  uint32_t batch_hold_bytes = 8u << 20;
};

// What a session's read-ramp bucket is derived from.
enum class StickyKey { kSession, kUser, kDatabase, kApplicationName, kClientAddress };

struct FallbackConfig {
  // A read on new that has sent no answer within this is re-run on old.
  std::chrono::milliseconds timeout{2000};
  // Errors from new that send a read back to old: SQLSTATEs ("57P01") or classes ("08*").
  std::vector<std::string> sqlstates{"08*", "57P01", "42P01"};
  // The circuit breaker: past this failed share of reads to new (over >= 20 reads in 10 s),
  // reads stay on old for the cooldown, then one probe read decides.
  double error_rate = 0.05;
  std::chrono::seconds cooldown{30};
  // Fallbacks old absorbs per second, process-wide; past it, reads meant for new go straight
  // to old until the budget refills.
  uint32_t budget_per_second = 100;
};

// How a write reaches the mirror. kStrict: after the source of truth ran it, before the
// source of truth commits (so conflicting writes apply in the same order on both).
enum class MirrorOrdering { kStrict, kParallel };

// A write storing values each server computes for itself (random(), INSERT ... SELECT into
// volatile defaults, ...). kRefuse: refused before old runs it (0A000). kAllow: run on both,
// each one an open divergence of its tables.
enum class UnsafeWrites { kRefuse, kAllow };

// What the comparator gets of each mirrored write. kEffects: both databases also return a
// witness of every row an UPDATE or DELETE in a Query changed (its key and a hash of each
// column), compared row by row (verify/row_effects.h). kAnswers: the answers only (command
// tags, returned rows).
enum class MirrorCompare { kEffects, kAnswers };

struct MirrorConfig {
  MirrorOrdering ordering = MirrorOrdering::kStrict;
  UnsafeWrites unsafe_writes = UnsafeWrites::kRefuse;
  MirrorCompare compare = MirrorCompare::kEffects;
  // A mirrored write the mirror has not answered within this counts as failed there.
  std::chrono::milliseconds timeout{5000};
  // How long the hand-over from journal replay back to live mirroring may hold transactions
  // that start meanwhile (proxy/migration/mirror_journal.h) before it is called off and tried
  // later.
  std::chrono::milliseconds handover_timeout{2000};
  // The mirror's sequences are moved to the source of truth's last value + sequence_margin
  // whenever they are less than half the margin ahead, checked every sequence_sync_ms (0: not
  // kept; proxy/migration/sequence_keeper.h).
  int64_t sequence_margin = 1000;
  std::chrono::milliseconds sequence_sync{1000};
};

// Keeps reads on old for one table ("name" or "schema.name") or one user.
struct ReadOverride {
  std::string table;
  std::string user;
};

struct MigrationConfig {
  router::Phase phase = router::Phase::kPassthrough;  // until the state store (issue 6) exists
  uint32_t read_ramp = 0;  // reads to new in dual_write, in basis points (read_ramp_percent x 100)
  StickyKey sticky_key = StickyKey::kSession;
  std::chrono::milliseconds read_your_writes{1000};
  // Reads on old also run on new, for the comparator, in basis points (shadow_reads_percent x
  // 100): the client gets old's answer only.
  uint32_t shadow_reads = 0;
  FallbackConfig fallback;
  MirrorConfig mirror;
  std::vector<ReadOverride> overrides;
  std::vector<std::string> safe_functions;  // user functions that only read
};

enum class LogFormat { kJson, kKeyValue };

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  LogFormat format = LogFormat::kJson;
};

// How background verification cuts tables into ranges and how hard it may press the databases
// (proxy/verification/table_check.h).
struct ChecksumConfig {
  uint64_t range_rows = 10000;                // the first range's rows, and the most in one
  std::chrono::milliseconds range_time{500};  // how long hashing one range should take
  unsigned max_load_percent = 50;             // the share of time spent querying
};

struct VerifyConfig {
  // Where writes the mirror did not take are kept until replayed (verify/journal.h).
  std::string journal_dir = "./cutover-data/journal";
  // Where the inline comparator appends one JSON line per mismatched write pair.
  std::string mismatch_log = "./cutover-data/mismatches.jsonl";
  // The open divergences, kept until verification or repair closes them
  // (proxy/migration/divergence_ledger.h).
  std::string divergence_log = "./cutover-data/divergences.jsonl";
  ChecksumConfig checksum;
  // The tables verification compares ("schema.name" or "name"); empty: every table.
  std::vector<std::string> tables;
  // Who verification logs in as where backends.*.user/database are empty (the client's).
  std::string user;
  std::string database;
};

// The admin HTTP port (proxy/admin/admin_server.h).
struct AdminConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 9187;    // 0: no admin port
  std::string token_file;  // holds the bearer token mutations need; empty: none allowed
  std::string audit_log = "./cutover-data/audit.jsonl";  // one JSON line per mutation
};

// Where the migration's live state is kept (proxy/control/control_state.h).
struct ControlConfig {
  std::string store = "file:./cutover-data/state.json";  // file:PATH
  // Promotion needs the comparator to have found no mismatch for this long.
  std::chrono::seconds promotion_window{600};
  // A role switch (promote, decommission, rollback after promote) waits this long for every
  // session to reach a transaction boundary; sessions still inside one are then ended.
  std::chrono::milliseconds switch_timeout{5000};
};

struct Config {
  ListenConfig listen;
  unsigned threads = 0;  // 0 = one per core
  TlsConfig tls;
  AuthConfig auth;
  BackendsConfig backends;
  MigrationConfig migration;
  TimeoutsConfig timeouts;
  LimitsConfig limits;
  VerifyConfig verify;
  AdminConfig admin;
  ControlConfig control;
  LogConfig log;
};

// A configuration problem, with the YAML key path and line in its message.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses YAML text; unknown keys and bad values throw ConfigError naming the key and line.
Config parse_config(const std::string& yaml_text);
Config load_config_file(const std::string& path);

// The effective configuration, as YAML that parse_config accepts.
std::string to_yaml(const Config& config);

// libpq's name for `mode` ("verify-full").
std::string ssl_mode_name(SslMode mode);

}  // namespace cutover::proxy
