# Finds the Debian packages cutover builds against (see deploy/install-deps.sh).

find_package(Boost 1.81 REQUIRED CONFIG)
find_package(OpenSSL 3.0 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
find_package(yaml-cpp REQUIRED CONFIG)
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()
find_package(Threads REQUIRED)
find_package(prometheus-cpp REQUIRED CONFIG)  # core only: the admin port serves /metrics itself

# xxHash is used header-only (XXH_INLINE_ALL): libpg_query exports its own older copy of the
# XXH* symbols, and inlining keeps our calls away from it.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
add_library(cutover_xxhash INTERFACE)
target_include_directories(cutover_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})
target_compile_definitions(cutover_xxhash INTERFACE XXH_INLINE_ALL)

# libpg_query (PostgreSQL 15's parser) ships neither a .pc file nor a CMake config.
find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIBRARY pg_query REQUIRED)
add_library(cutover_pg_query INTERFACE)
target_include_directories(cutover_pg_query SYSTEM INTERFACE ${PG_QUERY_INCLUDE_DIR})
target_link_libraries(cutover_pg_query INTERFACE ${PG_QUERY_LIBRARY} Threads::Threads)

if(CUTOVER_TESTS)
  find_package(GTest REQUIRED CONFIG)
endif()
