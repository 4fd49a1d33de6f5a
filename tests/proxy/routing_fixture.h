// The fixture of the read-routing suites: cutover in dual_write in front of the shared old and
// new clusters, and the query whose answer names the database that ran it (each reports its
// own port, so counts are the servers', not cutover's).
#pragma once

#include <sstream>
#include <string>

#include "tests/proxy/proxy_fixture.h"

namespace cutover::testing {

inline constexpr char kWhichServer[] = "select current_setting('port')";

class RoutingTest : public ProxyTest {
 protected:
  void SetUp() override { start_routing(100); }
  uint16_t new_backend_port() const override { return TwoClusters::new_db().port(); }

  void start_routing(double percent, const std::string& more = "") {
    std::ostringstream yaml;
    yaml << "migration:\n  phase: dual_write\n  read_ramp_percent: " << percent << "\n" << more;
    start_proxy(yaml.str());
  }
  std::string old_port() const { return std::to_string(old_db().port()); }
  std::string new_port() const { return std::to_string(TwoClusters::new_db().port()); }
};

}  // namespace cutover::testing
