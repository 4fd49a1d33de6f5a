// The Boost.Asio names proxy/ uses, with errors returned as values (as_tuple) by default.
// Not for anything outside proxy/: protocol/, router/ and verify/ never include Asio.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace cutover::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// Every asynchronous operation completes with (error_code, results...) instead of throwing.
using Token = asio::as_tuple_t<asio::use_awaitable_t<>>;
using Socket = Token::as_default_on_t<tcp::socket>;
using Acceptor = Token::as_default_on_t<tcp::acceptor>;
using Timer = Token::as_default_on_t<asio::steady_timer>;

// Completes after `duration`; raced with `||` to put a deadline on another awaitable.
asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration);

}  // namespace cutover::proxy
