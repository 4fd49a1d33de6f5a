#include "tests/proxy/session_parts.h"

#include <unistd.h>

#include <limits>

#include "protocol/framing.h"
#include "proxy/mirror/mirror_messages.h"
#include "verify/journal.h"

namespace cutover::proxy {
namespace {

// The command tag PostgreSQL gives `sql`, and what it leaves the transaction status at.
std::string tag_of(std::string_view sql, char& status) {
  const std::string verb(sql.substr(0, sql.find(' ')));
  if (verb == "BEGIN") status = 'T';
  if (verb == "COMMIT" || verb == "ROLLBACK") status = 'I';
  if (verb == "INSERT") return "INSERT 0 1";
  if (verb == "UPDATE" || verb == "DELETE" || verb == "SELECT") return verb + " 1";
  return verb;
}

}  // namespace

// Old's id for the transaction: one text column, "777".
HeldAnswer FakeOld::answer_to_ask(char status) {
  const std::string id = "777";
  const std::string row{'\0', '\1', '\0', '\0', '\0', static_cast<char>(id.size())};
  HeldAnswer answer;
  answer.status = status;
  answer.tags = {"SELECT 1"};
  answer.data_rows = {row + id};
  return answer;
}

asio::awaitable<std::optional<HeldAnswer>> FakeOld::query_own(std::string_view sql) {
  HeldAnswer answer;  // no rows: no catalog entries, no values
  answer.status = primary_.status;
  if (sql.starts_with("SELECT c.oid IS NOT NULL")) {  // EffectPlanner's question for a key
    key_questions.emplace_back(sql);
    co_return answer;  // a table the fake does not know: the write goes as a statement
  }
  queries.emplace_back(sql);
  if (sql == kAskTransactionId) answer = answer_to_ask(primary_.status);
  co_return answer;
}

asio::awaitable<bool> FakeOld::run_own(std::string_view messages) {
  run(messages);
  co_return true;
}

asio::awaitable<bool> FakeOld::forward_to_old(std::string& pending) {
  run(pending);
  pending.clear();
  co_return true;
}

asio::awaitable<std::optional<HeldAnswer>> FakeOld::run_on_old(std::string_view messages, int) {
  co_return run(messages);
}

asio::awaitable<bool> FakeOld::send_ready_to_client(char status) {
  readies.push_back(status);
  if (on_ready) on_ready();
  co_return true;
}

// Old runs every Query in `messages` and succeeds; its transaction status follows.
HeldAnswer FakeOld::run(std::string_view messages) {
  HeldAnswer answer;
  for (;;) {
    const auto frame = protocol::next_frame(messages, std::numeric_limits<size_t>::max());
    if (frame.status != protocol::FrameStatus::kFrame) break;
    if (frame.type == 'Q') {
      const std::string_view sql = sql_of_query(frame.body);
      queries.emplace_back(sql);
      if (sql == kAskTransactionId) {  // kept apart, as the filter keeps it from the client
        kept_ = answer_to_ask(primary_.status);
      } else {
        answer.tags.push_back(tag_of(sql, primary_.status));
      }
    }
    messages.remove_prefix(frame.consumed);
  }
  answer.status = primary_.status;
  return answer;
}

SessionPartsTest::SessionPartsTest()
    : dir_(std::filesystem::temp_directory_path() /
           ("cutover-parts-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
  std::filesystem::create_directories(dir_);
}

SessionPartsTest::~SessionPartsTest() {
  mirror_.reset();
  pinner_.reset();
  new_side_.reset();
  secondary_.stream.close();
  client_.reset();
  context_.reset();
  new_server_.reset();
  std::filesystem::remove_all(dir_);
}

void SessionPartsTest::start_new(ScriptedServer::Script script, std::string_view extra_config) {
  new_server_ = std::make_unique<ScriptedServer>(std::move(script));
  const std::string dir = dir_.string();
  config_ = parse_config(
      "auth: { method: trust, trust_addresses: [127.0.0.1/32] }\n"
      "backends:\n"
      "  old: { host: 127.0.0.1, port: 1, sslmode: disable }\n"
      "  new: { host: 127.0.0.1, port: " +
      std::to_string(new_server_->port()) +
      ", sslmode: disable }\n"
      "migration: { phase: dual_write, mirror: { sequence_sync_ms: 0 }" +
      (extra_config.empty() ? "" : ", " + std::string(extra_config)) +
      " }\n"
      "verify: { journal_dir: " +
      dir + "/journal, mismatch_log: " + dir + "/mismatches.jsonl, divergence_log: " + dir +
      "/divergences.jsonl }\n"
      "control: { store: \"file:" +
      dir + "/state.json\" }\n");
  secrets_ = load_secrets(config_);
  context_ = std::make_unique<ProxyContext>(config_, secrets_);

  tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  client_peer_.emplace(io_);
  client_peer_->connect(acceptor.local_endpoint());
  client_ = std::make_unique<ClientLink>(acceptor.accept(), config_.limits.max_message_bytes);

  secondary_.database = router::Backend::kNew;
  secondary_.window = std::make_unique_for_overwrite<char[]>(config_.limits.buffer_bytes);
  new_side_ =
      std::make_unique<Secondary>(secondary_, Secondary::Setup{.config = config_,
                                                               .secrets = secrets_,
                                                               .cancels = context_->cancels,
                                                               .client_key = client_key_,
                                                               .conn_id = 1,
                                                               .on_fresh_connection = [] {}});
  pinner_ = std::make_unique<Pinner>(old_, context_->schema_version, 1);
  mirror_ = std::make_unique<Mirror>(
      old_, Mirror::Links{.primary = primary_, .secondary = secondary_, .new_side = *new_side_},
      *pinner_, *context_, 1, database_, user_);
  LoginIdentity identity;
  identity.user = user_;
  identity.database = database_;
  run(new_side_->login(identity));
  ASSERT_TRUE(new_side_->ready());
}

std::string SessionPartsTest::client_received() {
  std::string out;
  client_peer_->non_blocking(true);
  char chunk[4096];
  for (;;) {
    boost::system::error_code ec;
    const size_t n = client_peer_->read_some(asio::buffer(chunk), ec);
    if (ec) break;
    out.append(chunk, n);
  }
  return out;
}

std::vector<verify::JournalRecord> SessionPartsTest::journal() const {
  return verify::read_journal(dir_ / "journal").records;
}

}  // namespace cutover::proxy
