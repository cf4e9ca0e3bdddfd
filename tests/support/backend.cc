#include "support/backend.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>

#include "memoir/store.h"
#include "support/lmdb_pages.h"

#ifdef MEMOIR_WITH_POSTGRES
#include <libpq-fe.h>

#include "memoir/postgres.h"
#endif

namespace memoir::test {
namespace {

std::mutex mu;
std::map<std::string, std::string>& Schemas() {
  static auto* schemas = new std::map<std::string, std::string>;
  return *schemas;
}

std::string Server() {
  const char* uri = std::getenv("MEMOIR_TEST_POSTGRES");
  return uri ? uri : "";
}

}  // namespace

bool OnPostgres() {
  const char* b = std::getenv("MEMOIR_TEST_BACKEND");
  return b != nullptr && std::string_view(b) == "postgres";
}

std::string PostgresUriFor(const std::string& path) {
  char name[32];
  std::snprintf(name, sizeof name, "t_%016zx", std::hash<std::string>()(path));
  {
    std::lock_guard<std::mutex> lock(mu);
    Schemas()[path] = name;
  }
  const std::string server = Server();
  return server + (server.find('?') == std::string::npos ? "?" : "&") +
         "memoir_schema=" + name;
}

void DropPostgresStoresUnder(const std::string& dir) {
#ifdef MEMOIR_WITH_POSTGRES
  if (!OnPostgres()) return;
  std::map<std::string, std::string> drop;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto& all = Schemas();
    for (auto it = all.begin(); it != all.end();) {
      if (it->first.rfind(dir, 0) == 0) {
        drop.insert(*it);
        it = all.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [path, schema] : drop) {
    // kNotFound: the test never created it (an open that failed).
    (void)DropPostgresStore(Server(), schema);
  }
#else
  (void)dir;
#endif
}

std::string StoreLocation(const std::string& path) {
  return OnPostgres() ? PostgresUriFor(path) : path;
}

std::string PostgresQuery(const std::string& path, const std::string& sql) {
#ifdef MEMOIR_WITH_POSTGRES
  std::string schema;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = Schemas().find(path);
    if (it == Schemas().end()) return "error: no store was opened at " + path;
    schema = it->second;
  }
  std::string text = sql;
  for (size_t p = text.find("{s}"); p != std::string::npos;
       p = text.find("{s}", p)) {
    text.replace(p, 3, schema);
  }
  PGconn* c = PQconnectdb(Server().c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    out = std::string("error: ") + PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, text.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
      if (PQntuples(r) > 0 && PQnfields(r) > 0) out = PQgetvalue(r, 0, 0);
    } else if (st == PGRES_COMMAND_OK) {
      out = PQcmdTuples(r);
    } else {
      out = std::string("error: ") + PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
#else
  (void)path;
  (void)sql;
  return "error: built without PostgreSQL";
#endif
}

std::string CorruptFirstEvent(const std::string& path) {
  if (!OnPostgres()) return FlipFirstRecordByte(path, "log");
  const std::string r =
      PostgresQuery(path,
                    "UPDATE {s}.events SET ts_ns = ts_ns # 1 WHERE position = "
                    "(SELECT min(position) FROM {s}.events)");
  return r == "1" ? std::string() : "no event damaged: " + r;
}

}  // namespace memoir::test
