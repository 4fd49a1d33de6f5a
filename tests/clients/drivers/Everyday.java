// PgJDBC's everyday calls through cutover in dual_write: what a Java application does besides
// single statements. Every flow writes rows whose values the program knows, so the shell test
// (drivers_jdbc_test.sh) can assert counts on old and compare old and new completely afterwards.
//
// - executeBatch() of ROWS inserts into jdbc_serials (a bigserial key, gen_random_uuid() and
//   clock_timestamp() defaults) on the default connection (PgJDBC sends a Sync every 256
//   rows), and again on a connection with reWriteBatchedInserts=true (multi-row INSERTs of 128,
//   64, 32, ... rows); and ROWS inserts into jdbc_rows, which later flows read and change;
// - one INSERT executed 20 times one by one, past prepareThreshold (5): PgJDBC switches to a
//   named server-side statement, and getGeneratedKeys() returns each key;
// - a server-side cursor (autocommit off, setFetchSize(50): a portal fetched 50 rows at a time)
//   while the same transaction inserts a row every 100 rows;
// - setSavepoint(), a write, rollback(savepoint), another write, releaseSavepoint(), commit;
// - UPDATE and DELETE choosing their rows by a range (n BETWEEN ? AND ?), prepared, executed one
//   by one past prepareThreshold with execute() and getUpdateCount(), and with executeUpdate()
//   and executeBatch() (Executes with a row limit of 1, see byRangeLimited);
// - CopyManager.copyIn naming every column, in autocommit and inside a transaction; a COPY
//   leaving a now() default to each server is refused by cutover (0A000, docs/mirroring.md
//   "Unsafe writes"), and the session goes on;
// - a large object (LargeObjectManager.createLO(): a fast-path call) is refused by cutover
//   (0A000, reason fast_path), and the session goes on;
// - CREATE TABLE jdbc_ctas AS SELECT over 300,000 generated rows.
//
// Usage: java -cp /usr/share/java/postgresql.jar Everyday.java PROXY_PORT ROWS. Prints "jdbc ok"
// and exits 0, or prints the exception and exits 1.

import java.io.StringReader;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.postgresql.PGConnection;
import org.postgresql.PGStatement;
import org.postgresql.largeobject.LargeObjectManager;

public class Everyday {
  static String url;
  static int rows;

  static void check(boolean ok, String what) {
    if (!ok) throw new IllegalStateException("check failed: " + what);
  }

  static Connection connect(String options) throws SQLException {
    return DriverManager.getConnection(url + options);
  }

  static long count(Connection conn, String where) throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("select count(*) from " + where)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static void insertRow(PreparedStatement insert, String flow, int n, String note)
      throws SQLException {
    insert.setString(1, flow);
    insert.setInt(2, n);
    insert.setString(3, note);
  }

  static final String INSERT_ROW = "insert into jdbc_rows (flow, n, note) values (?, ?, ?)";
  static final String INSERT_SERIAL = "insert into jdbc_serials (flow, n) values (?, ?)";

  // executeBatch() into both tables; PgJDBC server-prepares a statement repeated in a batch.
  static void batches(Connection conn, String serialFlow) throws SQLException {
    try (PreparedStatement insert = conn.prepareStatement(INSERT_SERIAL)) {
      for (int n = 0; n < rows; n++) {
        insert.setString(1, serialFlow);
        insert.setInt(2, n);
        insert.addBatch();
      }
      int[] counts = insert.executeBatch();
      check(counts.length == rows, serialFlow + ": " + counts.length + " counts");
      for (int c : counts) {
        // With reWriteBatchedInserts PgJDBC reports SUCCESS_NO_INFO (-2) per row.
        check(c == 1 || c == Statement.SUCCESS_NO_INFO, serialFlow + ": a count of " + c);
      }
    }
    check(count(conn, "jdbc_serials where flow = '" + serialFlow + "'") == rows,
        serialFlow + " rows");
  }

  static void batchOfRows(Connection conn) throws SQLException {
    try (PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      for (int n = 0; n < rows; n++) {
        insertRow(insert, "executeBatch", n, "executeBatch " + n);
        insert.addBatch();
      }
      int[] counts = insert.executeBatch();
      check(counts.length == rows && Arrays.stream(counts).allMatch(c -> c == 1),
          "executeBatch counts");
    }
  }

  // One statement executed one by one past prepareThreshold, with the generated keys read back.
  static void oneByOne(Connection conn) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (PreparedStatement insert =
        conn.prepareStatement(INSERT_SERIAL, Statement.RETURN_GENERATED_KEYS)) {
      check(((PGStatement) insert).getPrepareThreshold() == 5, "prepareThreshold is 5");
      for (int n = 0; n < 20; n++) {
        insert.setString(1, "one by one");
        insert.setInt(2, n);
        check(insert.executeUpdate() == 1, "one by one: an insert of one row");
        try (ResultSet keys = insert.getGeneratedKeys()) {
          check(keys.next(), "one by one: a generated key");
          ids.add(keys.getLong("id"));
        }
      }
      check(((PGStatement) insert).isUseServerPrepare(), "one by one: server-prepared");
    }
    check(ids.size() == 20, "one by one: 20 distinct keys, got " + ids);
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(
            "select count(*) from jdbc_serials where flow = 'one by one' and id in ("
                + ids.stream().map(String::valueOf).reduce((a, b) -> a + "," + b).get() + ")")) {
      rs.next();
      check(rs.getLong(1) == 20, "one by one: the generated keys are the rows'");
    }
  }

  // A portal fetched 50 rows at a time while the same transaction writes.
  static void cursor(Connection conn) throws SQLException {
    conn.setAutoCommit(false);
    int seen = 0;
    try (PreparedStatement select = conn.prepareStatement(
            "select n from jdbc_rows where flow = 'executeBatch' order by n");
        PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      select.setFetchSize(50);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          int n = rs.getInt(1);
          check(n == seen, "cursor: row " + seen + " is " + n);
          if (n % 100 == 0) {
            insertRow(insert, "beside a cursor", n, "written while the cursor was open");
            check(insert.executeUpdate() == 1, "beside a cursor: one row");
          }
          seen++;
        }
      }
    }
    conn.commit();
    conn.setAutoCommit(true);
    check(seen == rows, "cursor: saw " + seen + " rows");
  }

  static void savepoints(Connection conn) throws SQLException {
    conn.setAutoCommit(false);
    try (PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      insertRow(insert, "savepoint", 0, "before the savepoint");
      insert.executeUpdate();
      Savepoint savepoint = conn.setSavepoint();
      insertRow(insert, "savepoint", 1, "rolled back");
      insert.executeUpdate();
      conn.rollback(savepoint);
      insertRow(insert, "savepoint", 2, "kept");
      insert.executeUpdate();
      conn.releaseSavepoint(savepoint);
      Savepoint named = conn.setSavepoint("everyday");
      insertRow(insert, "savepoint", 3, "rolled back");
      insert.executeUpdate();
      conn.rollback(named);
    }
    conn.commit();
    conn.setAutoCommit(true);
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(
            "select string_agg(n::text, ',' order by n) from jdbc_rows where flow = 'savepoint'")) {
      rs.next();
      check("0,2".equals(rs.getString(1)), "savepoint: kept rows " + rs.getString(1));
    }
  }

  static final String TOUCH = "update jdbc_rows set note = note || ' touched', at = now()"
      + " where flow = ? and n between ? and ?";
  static final String DELETE = "delete from jdbc_rows where flow = ? and n between ? and ?";

  static void range(PreparedStatement statement, String flow, int low, int high)
      throws SQLException {
    statement.setString(1, flow);
    statement.setInt(2, low);
    statement.setInt(3, high);
  }

  // Rows chosen by a range, not by their key: cutover mirrors these by their effect. Run with
  // execute() and getUpdateCount(), which PgJDBC sends as an Execute without a row limit.
  static void byRange(Connection conn) throws SQLException {
    try (PreparedStatement touch = conn.prepareStatement(TOUCH)) {
      for (int low = 0; low < 70; low += 10) { // server-prepared from the fifth on
        range(touch, "executeBatch", low, low + 4);
        check(!touch.execute(), "update by range: no result set");
        check(touch.getUpdateCount() == 5, "update by range: " + touch.getUpdateCount() + " rows");
      }
      check(((PGStatement) touch).isUseServerPrepare(), "update by range: server-prepared");
    }
    try (PreparedStatement delete = conn.prepareStatement(DELETE)) {
      for (int low = rows - 60; low < rows; low += 10) {
        range(delete, "executeBatch", low, low + 1);
        check(!delete.execute(), "delete by range: no result set");
        check(delete.getUpdateCount() == 2,
            "delete by range: " + delete.getUpdateCount() + " rows");
      }
    }
  }

  // The same by executeUpdate() and executeBatch() (and Statement.executeUpdate), which PgJDBC
  // sends as Executes with a row limit of 1 (it discards any rows): PostgreSQL ignores the
  // limit for a statement that returns no rows, and so does cutover (its own RETURNING of the
  // rows' keys would otherwise be cut to one row). On rows of their own (flow executeUpdate).
  static void byRangeLimited(Connection conn) throws SQLException {
    String flow = "executeUpdate";
    try (PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      for (int n = 0; n < 100; n++) {
        insertRow(insert, flow, n, flow + " " + n);
        insert.addBatch();
      }
      insert.executeBatch();
    }
    try (PreparedStatement touch = conn.prepareStatement(TOUCH)) {
      for (int low = 0; low < 70; low += 10) {
        range(touch, flow, low, low + 4);
        int touched = touch.executeUpdate();
        check(touched == 5, "executeUpdate by range: " + touched + " rows");
      }
      for (int low = 70; low < 100; low += 10) {
        range(touch, flow, low, low + 2);
        touch.addBatch();
      }
      int[] counts = touch.executeBatch();
      check(Arrays.equals(counts, new int[] {3, 3, 3}),
          "executeBatch by range: " + Arrays.toString(counts));
    }
    try (PreparedStatement delete = conn.prepareStatement(DELETE)) {
      for (int low = 0; low < 60; low += 10) {
        range(delete, flow, low + 5, low + 6);
        int deleted = delete.executeUpdate();
        check(deleted == 2, "executeUpdate delete by range: " + deleted + " rows");
      }
    }
    try (Statement st = conn.createStatement()) { // the same without parameters
      int touched = st.executeUpdate("update jdbc_rows set note = note || ' touched'"
          + " where flow = '" + flow + "' and n between 95 and 96");
      check(touched == 2, "Statement.executeUpdate by range: " + touched + " rows");
    }
    check(count(conn, "jdbc_rows where flow = '" + flow + "'") == 88, flow + ": 88 rows left");
    check(count(conn, "jdbc_rows where flow = '" + flow + "' and note like '% touched'") == 46,
        flow + ": 46 rows touched");
  }

  static String copyData(String flow, int count) {
    StringBuilder data = new StringBuilder();
    for (int n = 0; n < count; n++) {
      data.append(flow).append('\t').append(n).append('\t').append(flow).append(' ').append(n)
          .append("\t2026-12-06 00:00:00+00\n");
    }
    return data.toString();
  }

  static void expectRefusal(Connection conn, String what, Action action)
      throws SQLException, java.io.IOException {
    try {
      action.run();
      throw new IllegalStateException(what + " was not refused");
    } catch (SQLException e) {
      check("0A000".equals(e.getSQLState()),
          what + ": SQLSTATE " + e.getSQLState() + " (" + e.getMessage() + "), want 0A000");
      check(e.getMessage().contains("cutover"), what + ": " + e.getMessage());
    }
    if (!conn.getAutoCommit()) conn.rollback();
    // The session goes on, and its writes are mirrored as before.
    try (PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      insertRow(insert, "after a refusal", refusals, "after " + what);
      check(insert.executeUpdate() == 1, "a write after " + what);
    }
    if (!conn.getAutoCommit()) conn.commit();
    refusals++;
  }

  static int refusals = 0;

  interface Action {
    void run() throws SQLException, java.io.IOException;
  }

  static void copies(Connection conn) throws SQLException, java.io.IOException {
    org.postgresql.copy.CopyManager copy = conn.unwrap(PGConnection.class).getCopyAPI();
    String sql = "COPY jdbc_rows (flow, n, note, at) FROM STDIN";
    long copied = copy.copyIn(sql, new StringReader(copyData("copy", rows)));
    check(copied == rows, "copy: " + copied + " rows");
    conn.setAutoCommit(false); // PgJDBC sends BEGIN before the COPY
    copied = copy.copyIn(sql, new StringReader(copyData("copy in a transaction", 100)));
    check(copied == 100, "copy in a transaction: " + copied + " rows");
    try (PreparedStatement insert = conn.prepareStatement(INSERT_ROW)) {
      insertRow(insert, "copy in a transaction", 100, "after the copy");
      insert.executeUpdate();
    }
    conn.commit();
    conn.setAutoCommit(true);
    // at's now() default would be each server's own: refused before old runs it.
    expectRefusal(conn, "a COPY leaving a now() default", () -> copy.copyIn(
        "COPY jdbc_rows (flow, n, note) FROM STDIN",
        new StringReader("refused copy\t1\tnever stored\n")));
  }

  static void largeObject(Connection conn) throws SQLException, java.io.IOException {
    conn.setAutoCommit(false); // PgJDBC refuses large objects in autocommit
    LargeObjectManager objects = conn.unwrap(PGConnection.class).getLargeObjectAPI();
    expectRefusal(conn, "a large object (fast-path lo_creat)", objects::createLO);
    conn.setAutoCommit(true);
  }

  static void createTableAs(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement()) {
      int created = st.executeUpdate(
          "create table jdbc_ctas as select g, md5(g::text) from generate_series(1, 300000) g");
      check(created == 300000, "create table as: " + created + " rows");
    }
    check(count(conn, "jdbc_ctas") == 300000, "jdbc_ctas rows");
  }

  public static void main(String[] args) {
    url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/postgres?user=postgres";
    rows = Integer.parseInt(args[1]);
    try (Connection conn = connect("");
        Connection rewriting = connect("&reWriteBatchedInserts=true")) {
      batches(conn, "executeBatch");
      batches(rewriting, "reWriteBatchedInserts");
      batchOfRows(conn);
      oneByOne(conn);
      cursor(conn);
      savepoints(conn);
      byRange(conn);
      byRangeLimited(conn);
      copies(conn);
      largeObject(conn);
      createTableAs(conn);
    } catch (Exception e) {
      if (e instanceof SQLException) {
        System.out.println("SQLSTATE " + ((SQLException) e).getSQLState());
      }
      if (e instanceof BatchUpdateException && e.getCause() != null) {
        e.getCause().printStackTrace(System.out);
      }
      e.printStackTrace(System.out);
      System.exit(1);
    }
    System.out.println("jdbc ok");
  }
}
