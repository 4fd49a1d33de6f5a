// Boost.JSON compiled once (its header-only mode) for every library that reads JSON: the
// parse trees of router/, the row witnesses of verify/. Two copies of src.hpp in one binary
// would define its symbols twice.
#include <boost/json/src.hpp>
