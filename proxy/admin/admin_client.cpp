#include "proxy/admin/admin_client.h"

#include <pwd.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "proxy/net/asio.h"

namespace cutover::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

constexpr auto kTimeout = std::chrono::seconds(10);

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "9187";
  std::string token_file;
  std::vector<std::string> command;
};

struct Reply {
  unsigned status = 0;
  std::string body;
};

// "http://host:port" (a path, if any, is ignored).
bool parse_admin_url(const std::string& url, Options& options) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return false;
  std::string rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return false;
  options.host = rest.substr(0, colon);
  options.port = rest.substr(colon + 1);
  return true;
}

std::optional<Options> parse_options(const std::vector<std::string>& args, std::ostream& err) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--admin" || args[i] == "--token-file") && i + 1 < args.size()) {
      if (args[i] == "--token-file") {
        options.token_file = args[++i];
      } else if (!parse_admin_url(args[++i], options)) {
        err << "cutover ctl: --admin takes http://HOST:PORT, got '" << args[i] << "'\n";
        return std::nullopt;
      }
    } else {
      options.command.push_back(args[i]);
    }
  }
  return options;
}

Reply request(const Options& options, http::verb verb, const std::string& target,
              const std::string& body, const std::string& token) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(kTimeout);
  stream.connect(resolver.resolve(options.host, options.port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, options.host);
  req.set(http::field::user_agent, "cutover-ctl");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  // Who, for the audit log: $USER, else the account's name.
  const char* user = std::getenv("USER");
  if (user == nullptr) {
    const passwd* account = ::getpwuid(::getuid());
    user = account != nullptr ? account->pw_name : nullptr;
  }
  if (user != nullptr) req.set("X-Cutover-Operator", user);
  if (verb == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return {res.result_int(), res.body()};
}

std::string text(const json::value* v) {
  if (v == nullptr) return "?";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_double()) {  // a percentage with decimals: 12.5, not 1.25E1
    std::ostringstream out;
    out << v->get_double();
    return out.str();
  }
  return json::serialize(*v);
}

void print_status(const json::object& s, std::ostream& out) {
  const json::object* mirror =
      s.contains("mirror") && s.at("mirror").is_object() ? &s.at("mirror").get_object() : nullptr;
  const json::object* mismatches = s.contains("mismatches") && s.at("mismatches").is_object()
                                       ? &s.at("mismatches").get_object()
                                       : nullptr;
  out << "phase        " << text(s.if_contains("phase"))
      << " (source of truth: " << text(s.if_contains("source_of_truth")) << ")\n"
      << "read ramp    " << text(s.if_contains("read_ramp_percent")) << " %\n"
      << "version      " << text(s.if_contains("version")) << "\n";
  if (mirror != nullptr) {
    const json::value* healthy = mirror->if_contains("healthy");
    out << "mirror       "
        << (healthy != nullptr && healthy->is_bool() && healthy->get_bool() ? "healthy" : "behind")
        << ", " << text(mirror->if_contains("journal_records")) << " journal record(s)\n";
  }
  if (mismatches != nullptr) {
    out << "mismatches   " << text(mismatches->if_contains("total")) << "\n";
  }
  const json::value* divergences = s.if_contains("divergences");
  if (divergences != nullptr && divergences->is_object()) {
    const json::object& d = divergences->get_object();
    out << "divergences  " << text(d.if_contains("open")) << " open";
    const json::value* tables = d.if_contains("tables");
    if (tables != nullptr && tables->is_array() && !tables->get_array().empty()) {
      out << " (" << text(tables) << ")";
    }
    out << "\n";
  }
  out << "clients      " << text(s.if_contains("clients")) << "\n";
}

// One line per open divergence: id, kind, table, keys, detail.
void print_divergences(const json::object& answer, std::ostream& out) {
  const json::value* items = answer.if_contains("divergences");
  if (items == nullptr || !items->is_array() || items->get_array().empty()) {
    out << "no open divergences\n";
    return;
  }
  for (const auto& item : items->get_array()) {
    if (!item.is_object()) continue;
    const json::object& d = item.get_object();
    out << "#" << text(d.if_contains("id")) << "  " << text(d.if_contains("kind")) << "  "
        << text(d.if_contains("table")) << "  keys " << text(d.if_contains("keys")) << "  "
        << text(d.if_contains("detail")) << "\n";
  }
}

void print_readiness(const json::object& r, std::ostream& out) {
  const json::value* ready = r.if_contains("ready");
  out << "ready to promote: "
      << (ready != nullptr && ready->is_bool() && ready->get_bool() ? "yes" : "no") << "\n";
  const json::value* gates = r.if_contains("gates");
  if (gates == nullptr || !gates->is_array()) return;
  for (const auto& gate : gates->get_array()) {
    if (!gate.is_object()) continue;
    const json::object& g = gate.get_object();
    const json::value* pass = g.if_contains("pass");
    out << "  " << (pass != nullptr && pass->is_bool() && pass->get_bool() ? "pass" : "FAIL")
        << "  " << text(g.if_contains("name")) << " = " << text(g.if_contains("value"))
        << " (needs " << text(g.if_contains("threshold")) << ")\n";
  }
}

// GET /verify's report: a line for the pass, one per table, one per differing row.
void print_verify_report(const json::object& r, std::ostream& out) {
  auto number = [](const json::object& o, std::string_view name) {
    return text(o.if_contains(name));
  };
  out << "pass=" << number(r, "pass") << " running=" << number(r, "running")
      << " equal=" << number(r, "equal");
  if (const json::value* holds = r.if_contains("commit_holds"); holds && holds->is_object()) {
    out << " commit_holds=" << number(holds->get_object(), "count")
        << " longest_hold_us=" << number(holds->get_object(), "longest_us");
  }
  out << " divergences_closed=" << number(r, "divergences_closed") << " error=\""
      << number(r, "error") << "\"\n";
  const json::value* tables = r.if_contains("tables");
  if (tables == nullptr || !tables->is_array()) return;
  for (const json::value& t : tables->get_array()) {
    if (!t.is_object()) continue;
    const json::object& table = t.get_object();
    out << "table=" << number(table, "table") << " equal=" << number(table, "equal")
        << " rows_old=" << number(table, "rows_old") << " rows_new=" << number(table, "rows_new")
        << " differing_rows=" << number(table, "differing_rows")
        << " problem=" << number(table, "problem") << "\n";
    const json::value* rows = table.if_contains("rows");
    if (rows == nullptr || !rows->is_array()) continue;
    for (const json::value& row : rows->get_array()) {
      if (row.is_object()) out << "  " << json::serialize(row) << "\n";
    }
  }
}

int usage(std::ostream& err) {
  err << "usage: cutover ctl [--admin http://HOST:PORT] [--token-file FILE] status | readiness |\n"
         "       divergences | verify | verify-report |\n"
         "       ramp PERCENT | ramp +STEP | ramp -STEP | promote [--force] | rollback |\n"
         "       resume | decommission | dual_write\n";
  return 2;
}

}  // namespace

int run_ctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto options = parse_options(args, err);
  if (!options) return 2;
  const std::vector<std::string>& c = options->command;
  if (c.empty()) return usage(err);
  std::string token;
  if (!options->token_file.empty()) {
    std::ifstream in(options->token_file);
    if (!in) {
      err << "cutover ctl: cannot read the token file " << options->token_file << "\n";
      return 1;
    }
    std::getline(in, token);
  }
  http::verb verb = http::verb::get;
  std::string target;
  std::string body;
  if (c.size() == 1 && (c[0] == "status" || c[0] == "readiness" || c[0] == "divergences")) {
    target = "/" + c[0];
  } else if (c.size() == 1 && (c[0] == "verify" || c[0] == "verify-report")) {
    verb = c[0] == "verify" ? http::verb::post : http::verb::get;
    target = "/verify";
  } else if (c.size() == 2 && c[0] == "ramp") {
    const bool step = c[1].starts_with('+') || c[1].starts_with('-');
    const std::string number = c[1].substr(step && c[1][0] == '+' ? 1 : 0);
    boost::system::error_code bad_number;
    json::value parsed = json::parse(number, bad_number);
    if (bad_number || !parsed.is_number()) return usage(err);
    verb = http::verb::post;
    target = "/ramp";
    body = json::serialize(json::object{{step ? "step" : "percent", parsed}});
  } else if ((c.size() == 1 || (c.size() == 2 && c[1] == "--force")) &&
             (c[0] == "promote" || c[0] == "rollback" || c[0] == "resume" ||
              c[0] == "decommission" || c[0] == "dual_write")) {
    verb = http::verb::post;
    target = "/phase";
    body = json::serialize(json::object{{"action", c[0]}, {"force", c.size() == 2}});
  } else {
    return usage(err);
  }
  Reply reply;
  try {
    reply = request(*options, verb, target, body, token);
  } catch (const std::exception& e) {
    err << "cutover ctl: cannot reach the admin port at " << options->host << ":" << options->port
        << ": " << e.what() << "\n";
    return 1;
  }
  boost::system::error_code ec;
  json::value answer = json::parse(reply.body, ec);
  if (reply.status != 200 && reply.status != 202) {
    const json::value* message =
        !ec && answer.is_object() ? answer.get_object().if_contains("error") : nullptr;
    err << "cutover ctl: " << reply.status << ": "
        << (message != nullptr ? text(message) : reply.body) << "\n";
    return 1;
  }
  if (ec || !answer.is_object()) {
    err << "cutover ctl: the admin port answered something else than JSON\n";
    return 1;
  }
  if (target == "/verify" && verb == http::verb::post) {
    out << "verification pass " << text(answer.get_object().if_contains("pass")) << " started\n";
  } else if (target == "/verify") {
    print_verify_report(answer.get_object(), out);
  } else if (target == "/readiness") {
    print_readiness(answer.get_object(), out);
  } else if (target == "/divergences") {
    print_divergences(answer.get_object(), out);
  } else {
    print_status(answer.get_object(), out);
  }
  return 0;
}

}  // namespace cutover::proxy
