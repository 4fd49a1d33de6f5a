#include "proxy/migration/own_connection.h"

#include <utility>
#include <variant>

#include "protocol/frontend.h"

namespace cutover::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;

// cutover's own statements return small answers; a bigger message means a broken stream.
constexpr size_t kMaxAnswerBody = size_t{1} << 30;

}  // namespace

asio::awaitable<std::unique_ptr<OwnConnection>> OwnConnection::open(
    const BackendTarget& target, const LoginIdentity& identity, std::chrono::milliseconds connect,
    std::chrono::milliseconds timeout, std::string& error) {
  Stream stream(co_await asio::this_coro::executor);
  auto login = co_await (login_backend(stream, target, identity, connect) || sleep_for(timeout));
  if (login.index() == 1 || !std::get<0>(login).ok) {
    error = login.index() == 1 ? "timed out" : failure_message(std::get<0>(login));
    stream.close();
    co_return nullptr;
  }
  std::string leftover = std::move(std::get<0>(login).leftover);
  co_return std::unique_ptr<OwnConnection>(
      new OwnConnection(std::move(stream), std::move(leftover), timeout));
}

asio::awaitable<OwnConnection::Answer> OwnConnection::exchange(
    std::string_view messages, int ready_expected, size_t keep_rows,
    std::optional<std::chrono::milliseconds> timeout) {
  if (!stream_.is_open()) co_return Answer{};
  const std::chrono::milliseconds wait = timeout.value_or(timeout_);
  auto done = co_await (send_and_read(messages, ready_expected, keep_rows) || sleep_for(wait));
  Answer answer = done.index() == 0 ? std::get<0>(std::move(done)) : Answer{};
  if (!answer.answered) stream_.close();  // whatever it was still sending is of no use now
  co_return answer;
}

asio::awaitable<OwnConnection::Answer> OwnConnection::query(std::string_view sql,
                                                            size_t keep_rows) {
  std::string message;
  protocol::encode(protocol::Query{.sql = std::string(sql)}, message);
  co_return co_await exchange(message, 1, keep_rows);
}

asio::awaitable<OwnConnection::Answer> OwnConnection::send_and_read(std::string_view messages,
                                                                    int ready_expected,
                                                                    size_t keep_rows) {
  Answer answer;
  if (co_await stream_.write(messages)) co_return answer;
  protocol::ProtocolError error{};
  while (ready_expected > 0) {
    auto message = co_await read_message(stream_, buffer_, false, kMaxAnswerBody, error);
    if (!message) co_return Answer{};
    if (message->type == 'E' && answer.error.empty()) answer.error = error_message(*message);
    if (message->type == 'D' && answer.rows.size() < keep_rows) {
      auto row = protocol::decode_backend('D', message->body);
      if (!row) co_return Answer{};
      answer.rows.push_back(std::get<protocol::DataRow>(std::move(*row)));
    }
    if (message->type == 'Z') {
      answer.status = message->body.empty() ? 'I' : message->body[0];
      --ready_expected;
    }
  }
  answer.answered = true;
  co_return answer;
}

}  // namespace cutover::proxy
