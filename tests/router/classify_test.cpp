// Classification with PostgreSQL's parser: the corpus in classify_corpus.txt (every case, with
// its expected kind), the details a router needs beyond the kind, and the cache.
#include "router/classify.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

namespace cutover::router {
namespace {

struct Case {
  int line;
  std::string kind;
  std::string sql;
};

std::vector<Case> load_corpus() {
  std::ifstream in(CLASSIFY_CORPUS);
  std::vector<Case> cases;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    auto tab = line.find('\t');
    if (tab == std::string::npos) {
      ADD_FAILURE() << "corpus line " << number << " has no tab";
      continue;
    }
    cases.push_back({number, line.substr(0, tab), line.substr(tab + 1)});
  }
  return cases;
}

TEST(ClassifyTest, CorpusOfAtLeast200StatementsPasses) {
  auto cases = load_corpus();
  ASSERT_GE(cases.size(), 200u);
  Classifier classifier;
  std::map<std::string, int> per_kind;
  for (const auto& c : cases) {
    Classification result = classifier.classify(c.sql);
    EXPECT_EQ(kind_name(result.kind), c.kind)
        << "corpus line " << c.line << ": " << c.sql << (result.error.empty() ? "" : " — ")
        << result.error;
    ++per_kind[c.kind];
  }
  for (std::string_view kind : {"read", "write", "ddl", "transaction", "session", "unknown"}) {
    EXPECT_GE(per_kind[std::string(kind)], 5) << "too few " << kind << " cases";
  }
}

TEST(ClassifyTest, TheCacheAgreesWithTheParserOnEveryCorpusCase) {
  Classifier classifier;
  ClassificationCache cache(classifier, 100000);
  auto cases = load_corpus();
  // Twice: the second round is answered from the cache and must not differ.
  for (int round = 0; round < 2; ++round) {
    for (const auto& c : cases) {
      EXPECT_EQ(kind_name(cache.classify(c.sql).kind), c.kind) << "line " << c.line;
    }
  }
  EXPECT_GE(cache.hits(), cases.size());
}

TEST(ClassifyTest, ReadOnlyTransactionsAreFlagged) {
  Classifier classifier;
  EXPECT_TRUE(classifier.classify("BEGIN READ ONLY").read_only_transaction);
  EXPECT_TRUE(classifier.classify("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY")
                  .read_only_transaction);
  EXPECT_TRUE(classifier.classify("SET TRANSACTION READ ONLY").read_only_transaction);
  EXPECT_FALSE(classifier.classify("BEGIN").read_only_transaction);
  EXPECT_FALSE(classifier.classify("BEGIN READ WRITE").read_only_transaction);
  EXPECT_FALSE(classifier.classify("SET TRANSACTION READ WRITE").read_only_transaction);
}

TEST(ClassifyTest, WhatMirroringNeedsIsFlagged) {
  Classifier classifier;
  EXPECT_TRUE(classifier.classify("COPY t FROM STDIN").copies_in);
  EXPECT_FALSE(classifier.classify("COPY t FROM '/tmp/t.csv'").copies_in);
  EXPECT_FALSE(classifier.classify("COPY t TO STDOUT").copies_in);
  EXPECT_TRUE(classifier.classify("INSERT INTO t VALUES (1); COMMIT").controls_transaction);
  EXPECT_TRUE(classifier.classify("BEGIN").controls_transaction);
  EXPECT_FALSE(classifier.classify("INSERT INTO t VALUES (1)").controls_transaction);
  // What may commit a transaction block, for the mirror's journal.
  for (const char* sql : {"COMMIT", "END", "INSERT INTO t VALUES (1); COMMIT"}) {
    EXPECT_TRUE(classifier.classify(sql).commits) << sql;
  }
  for (const char* sql : {"ROLLBACK", "SAVEPOINT s", "RELEASE s", "BEGIN"}) {
    EXPECT_FALSE(classifier.classify(sql).commits) << sql;
  }
  EXPECT_TRUE(classifier.classify("INSERT INTO t VALUES (1)").inserts);
  EXPECT_TRUE(classifier
                  .classify("WITH x AS (INSERT INTO t DEFAULT VALUES RETURNING id) "
                            "SELECT * FROM x")
                  .inserts);
  EXPECT_FALSE(classifier.classify("UPDATE t SET v = 1").inserts);
  EXPECT_FALSE(classifier.classify("DELETE FROM t").refuses_transaction_block);
}

// What PostgreSQL refuses inside a transaction block: cutover never wraps it in its own.
TEST(ClassifyTest, StatementsThatRunOutsideTransactionsAreFlagged) {
  const Classifier classifier;
  for (const char* sql :
       {"VACUUM t", "CREATE INDEX CONCURRENTLY i ON t (v)", "DROP INDEX CONCURRENTLY i",
        "REINDEX (CONCURRENTLY) TABLE t", "REINDEX TABLE CONCURRENTLY t", "CREATE DATABASE d",
        "DROP DATABASE d", "ALTER SYSTEM SET work_mem = '8MB'", "CLUSTER",
        "CREATE TABLESPACE s LOCATION '/x'", "ALTER DATABASE d SET TABLESPACE s"}) {
    EXPECT_TRUE(classifier.classify(sql).refuses_transaction_block) << sql;
  }
  for (const char* sql :
       {"CREATE INDEX i ON t (v)", "DROP INDEX i", "REINDEX TABLE t", "CLUSTER t USING i",
        "CREATE TABLE c AS SELECT 1", "ALTER TABLE t ADD c int", "DROP TABLE t"}) {
    EXPECT_FALSE(classifier.classify(sql).refuses_transaction_block) << sql;
  }
}

TEST(ClassifyTest, WhatCannotBeMirroredIsFlagged) {
  Classifier classifier;
  for (const char* sql :
       {"PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'"}) {
    EXPECT_TRUE(classifier.classify(sql).two_phase) << sql;
  }
  EXPECT_FALSE(classifier.classify("COMMIT").two_phase);
  EXPECT_FALSE(classifier.classify("PREPARE p AS SELECT 1").two_phase);
  EXPECT_EQ(classifier.classify("COPY a FROM STDIN; COPY b FROM STDIN").copies_in_statements, 2);
  EXPECT_EQ(classifier.classify("SELECT 0; COPY a FROM STDIN").copies_in_statements, 1);
  EXPECT_EQ(classifier.classify("COPY a TO STDOUT; COPY b FROM '/f'").copies_in_statements, 0);
}

TEST(ClassifyTest, QuestionsAboutTheSessionsOwnServerAreFlagged) {
  Classifier classifier;
  for (const char* sql :
       {"SELECT pg_backend_pid()", "SELECT pg_catalog.pg_backend_pid()", "SELECT currval('s')",
        "SELECT lastval()", "SELECT version()", "SELECT * FROM pg_stat_activity",
        "SELECT * FROM pg_catalog.pg_locks", "SELECT name FROM pg_prepared_statements",
        "SELECT txid_current_if_assigned()", "SELECT inet_server_port()"}) {
    EXPECT_TRUE(classifier.classify(sql).server_bound) << sql;
  }
  for (const char* sql :
       {"SELECT 1", "SELECT * FROM t", "SELECT app.pg_backend_pid()", "SELECT * FROM app.pg_locks",
        "SELECT setting FROM pg_settings", "SELECT now()"}) {
    EXPECT_FALSE(classifier.classify(sql).server_bound) << sql;
  }
}

TEST(ClassifyTest, TemporaryRelationsAreFlagged) {
  Classifier classifier;
  for (const char* sql :
       {"CREATE TEMP TABLE t (a int)", "CREATE TEMPORARY TABLE t AS SELECT 1",
        "SELECT 1 INTO TEMP t", "CREATE TEMP VIEW v AS SELECT 1", "CREATE TEMP SEQUENCE s"}) {
    auto c = classifier.classify(sql);
    EXPECT_TRUE(c.creates_temporary) << sql;
    EXPECT_EQ(c.kind, Kind::kSession) << sql;
  }
  EXPECT_FALSE(classifier.classify("CREATE TABLE t (a int)").creates_temporary);
  EXPECT_FALSE(classifier.classify("SELECT 1").creates_temporary);
}

TEST(ClassifyTest, TablesAreNamedAsWritten) {
  Classifier classifier;
  auto c = classifier.classify(
      "SELECT * FROM orders o JOIN app.customers c ON true WHERE o.id IN (SELECT id FROM orders)");
  EXPECT_EQ(c.tables, (std::vector<std::string>{"orders", "app.customers"}));
  // Targets of writes too (journal replay reports them), in a CTE as well.
  EXPECT_EQ(classifier.classify("INSERT INTO app.log SELECT * FROM staged").tables,
            (std::vector<std::string>{"app.log", "staged"}));
  EXPECT_EQ(classifier.classify("WITH d AS (DELETE FROM q RETURNING *) UPDATE t SET v = 1").tables,
            (std::vector<std::string>{"t", "q"}));
  EXPECT_EQ(classifier.classify("CREATE TABLE app.made (id int)").tables,
            std::vector<std::string>{"app.made"});
  EXPECT_EQ(classifier.classify("ALTER TABLE t ADD COLUMN c int").tables,
            std::vector<std::string>{"t"});
}

TEST(ClassifyTest, DeeplyNestedExpressionsAreStillClassified) {
  // 40 prefix operators nest 80 levels deep in the parse tree's JSON (was "unknown": the JSON
  // reader's default limit is 32), as found by fuzz_classify.
  Classifier classifier;
  EXPECT_EQ(classifier.classify("SELECT " + std::string(40, '+') + "1").kind, Kind::kRead);
  EXPECT_EQ(classifier.classify("INSERT INTO t VALUES (" + std::string(40, '+') + "now())").kind,
            Kind::kWrite);
}

TEST(ClassifyTest, ParseErrorsAreUnknownWithTheParsersMessage) {
  Classifier classifier;
  auto c = classifier.classify("SELEC 1");
  EXPECT_EQ(c.kind, Kind::kUnknown);
  EXPECT_EQ(c.error, "syntax error at or near \"SELEC\"");
}

TEST(ClassifyTest, FunctionsListedAsSafeAreReads) {
  EXPECT_EQ(Classifier().classify("SELECT app.price(1)").kind, Kind::kWrite);
  Classifier configured({"app.price", "tax"});
  EXPECT_EQ(configured.classify("SELECT app.price(1), tax(2)").kind, Kind::kRead);
  EXPECT_EQ(configured.classify("SELECT other.price(1)").kind, Kind::kWrite);
}

TEST(ClassifyTest, CacheIsBoundedAndKeyedOnTheNormalisedText) {
  Classifier classifier;
  ClassificationCache cache(classifier, 2);
  EXPECT_EQ(cache.classify("SELECT * FROM t WHERE id = 1").kind, Kind::kRead);
  EXPECT_EQ(cache.classify("SELECT * FROM t WHERE id = 2").kind, Kind::kRead);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.classify("SELECT * FROM t WHERE id = 3 FOR UPDATE").kind, Kind::kWrite);
  EXPECT_EQ(cache.classify("DELETE FROM t").kind, Kind::kWrite);
  // Capacity 2: the first text was evicted and is parsed again.
  EXPECT_EQ(cache.classify("SELECT * FROM t WHERE id = 9").kind, Kind::kRead);
  EXPECT_EQ(cache.misses(), 4u);
}

}  // namespace
}  // namespace cutover::router
