#include "postgres/pg_conn.h"

#include <fmt/format.h>

#include <cstring>

namespace memoir::internal::pg {

void PutInt32(std::string* out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 4);
}

void PutInt64(std::string* out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  PutInt32(out, static_cast<int32_t>(u >> 32));
  PutInt32(out, static_cast<int32_t>(u & 0xffffffffu));
}

int32_t GetInt32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int32_t>((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                              (uint32_t{b[2]} << 8) | uint32_t{b[3]});
}

int64_t GetInt64(const char* p) {
  const auto hi = static_cast<uint32_t>(GetInt32(p));
  const auto lo = static_cast<uint32_t>(GetInt32(p + 4));
  return static_cast<int64_t>((uint64_t{hi} << 32) | lo);
}

void ArrayBuilder::AddInt32(int32_t v) {
  PutInt32(&body_, 4);
  PutInt32(&body_, v);
  ++count_;
}

void ArrayBuilder::AddInt64(int64_t v) {
  PutInt32(&body_, 8);
  PutInt64(&body_, v);
  ++count_;
}

void ArrayBuilder::AddBytes(std::string_view v) {
  PutInt32(&body_, static_cast<int32_t>(v.size()));
  body_.append(v);
  ++count_;
}

void ArrayBuilder::AddUuid(const uint8_t (&bytes)[16]) {
  PutInt32(&body_, 16);
  body_.append(reinterpret_cast<const char*>(bytes), 16);
  ++count_;
}

void ArrayBuilder::AddNull() {
  PutInt32(&body_, -1);
  has_null_ = true;
  ++count_;
}

std::string ArrayBuilder::Finish() {
  std::string out;
  out.reserve(20 + body_.size());
  PutInt32(&out, 1);  // dimensions
  PutInt32(&out, has_null_ ? 1 : 0);
  PutInt32(&out, static_cast<int32_t>(element_));
  PutInt32(&out, static_cast<int32_t>(count_));
  PutInt32(&out, 1);  // lower bound
  out.append(body_);
  std::string().swap(body_);
  return out;
}

void Params::Add(Oid type, std::string bytes, bool null) {
  types_.push_back(type);
  storage_.push_back(std::move(bytes));
  null_.push_back(null);
  formats_.push_back(1);
  lengths_.push_back(static_cast<int>(storage_.back().size()));
}

void Params::Int64(int64_t v) {
  std::string b;
  PutInt64(&b, v);
  Add(kInt8Oid, std::move(b), false);
}

void Params::Int32(int32_t v) {
  std::string b;
  PutInt32(&b, v);
  Add(kInt4Oid, std::move(b), false);
}

void Params::Bool(bool v) { Add(kBoolOid, std::string(1, v ? 1 : 0), false); }

void Params::Text(std::string_view v) { Add(kTextOid, std::string(v), false); }

void Params::Bytea(std::string_view v) {
  Add(kByteaOid, std::string(v), false);
}

void Params::Array(Oid array_type, std::string bytes) {
  Add(array_type, std::move(bytes), false);
}

void Params::Null(Oid type) { Add(type, std::string(), true); }

const char* const* Params::values() {
  values_.clear();
  for (size_t i = 0; i < storage_.size(); ++i) {
    values_.push_back(null_[i] ? nullptr : storage_[i].data());
  }
  return values_.data();
}

int64_t Rows::Int64(int row, int col) const {
  return GetInt64(PQgetvalue(r_.get(), row, col));
}

int32_t Rows::Int32(int row, int col) const {
  return GetInt32(PQgetvalue(r_.get(), row, col));
}

bool Rows::Bool(int row, int col) const {
  return PQgetvalue(r_.get(), row, col)[0] != 0;
}

std::string_view Rows::Bytes(int row, int col) const {
  return {PQgetvalue(r_.get(), row, col),
          static_cast<size_t>(PQgetlength(r_.get(), row, col))};
}

void Rows::Uuid16(int row, int col, uint8_t (&out)[16]) const {
  if (null(row, col) || PQgetlength(r_.get(), row, col) != 16) {
    std::memset(out, 0, 16);
    return;
  }
  std::memcpy(out, PQgetvalue(r_.get(), row, col), 16);
}

Status Conn::Connect(const std::string& conninfo, std::unique_ptr<Conn>* out) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr) {
    return Status::IOError("libpq could not allocate a connection");
  }
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
      msg.pop_back();
    }
    PQfinish(c);
    return Status::IOError(fmt::format(
        "cannot connect to PostgreSQL at {}: {}; check that the server runs "
        "and the connection string is right",
        MaskPassword(conninfo), msg));
  }
  out->reset(new Conn(c));
  PQsetNoticeReceiver(c, &Conn::OnNotice, out->get());
  // Text crosses in UTF-8 (Open refuses a database in another encoding);
  // notices below warnings stay on the server.
  return (*out)->Simple("set up the connection",
                        "SET client_encoding = 'UTF8'; "
                        "SET client_min_messages = warning");
}

Conn::~Conn() { PQfinish(conn_); }

bool Conn::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

void Conn::OnNotice(void* conn, const PGresult* notice) {
  const char* severity =
      PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && (std::strcmp(severity, "FATAL") == 0 ||
                              std::strcmp(severity, "PANIC") == 0)) {
    static_cast<Conn*>(conn)->fatal_ = true;
  }
}

bool Conn::Alive() {
  // A server ending a session sends a FATAL message, then closes. Reading
  // takes the message (OnNotice marks the connection) or finds the end of
  // the stream (libpq marks it bad); neither blocks.
  for (int i = 0; i < 2; ++i) {
    if (fatal_ || broken() || PQconsumeInput(conn_) == 0) return false;
  }
  return !fatal_ && !broken();
}

Status Conn::Exec(std::string_view what, const std::string& sql, Params* params,
                  Rows* rows, Fate* fate) {
  if (fate != nullptr) *fate = Fate::kDone;
  if (broken()) {
    if (fate != nullptr) *fate = Fate::kNotSent;
    return Status::IOError(fmt::format(
        "{}: the connection to PostgreSQL is lost; nothing was sent", what));
  }
  PGresult* r = params == nullptr
                    ? PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr,
                                   nullptr, nullptr, 1)
                    : PQexecParams(conn_, sql.c_str(), params->count(),
                                   params->types(), params->values(),
                                   params->lengths(), params->formats(), 1);
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    if (rows != nullptr)
      *rows = Rows(r);
    else
      PQclear(r);
    return Status::OK();
  }
  Status s = StatusOf(what, r, conn_);
  // An error the server reports about the statement rolls it back. A lost
  // connection (class 08, or a server shutting down: 57P0x) may come after
  // the commit record was written: the outcome is unknown.
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state ? state : "";
  const bool answered =
      !code.empty() && code.substr(0, 2) != "08" && code.substr(0, 4) != "57P0";
  if (r != nullptr) PQclear(r);
  if (!answered && fate != nullptr) *fate = Fate::kUnknown;
  return s;
}

Status Conn::Simple(std::string_view what, const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    PQclear(r);
    return Status::OK();
  }
  Status s = StatusOf(what, r, conn_);
  if (r != nullptr) PQclear(r);
  return s;
}

Status StatusOf(std::string_view what, const PGresult* r, PGconn* conn) {
  const char* state =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : "";
  if (msg.empty() && conn != nullptr) msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
    msg.pop_back();
  }
  if (state == nullptr) {
    // No SQLSTATE: the client lost the connection or never got an answer.
    return Status::IOError(
        fmt::format("{}: no answer from PostgreSQL ({})", what, msg));
  }
  const std::string_view code(state);
  const std::string text =
      fmt::format("{}: PostgreSQL says {} (SQLSTATE {})", what, msg, code);
  if (code == "53100") return Status::StorageFull(text);  // disk_full
  if (code == "57014") {                                  // query_canceled
    return Status::Timeout(text + "; nothing was written");
  }
  if (code.substr(0, 2) == "22" || code == "54000") {  // data, limits
    return Status::InvalidArgument(text);
  }
  if (code.substr(0, 2) == "08" || code.substr(0, 2) == "57") {
    return Status::IOError(text);
  }
  if (code == "40001" || code == "40P01" || code == "55P03") {
    return Status::Busy(text);
  }
  return Status::IOError(text);
}

std::string MaskPassword(std::string_view conninfo) {
  std::string s(conninfo);
  // URI form: scheme://user:password@host
  const size_t scheme = s.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = s.find('@', start);
    const size_t slash = s.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const size_t colon = s.find(':', start);
      if (colon != std::string::npos && colon < at) {
        s.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // key=value form, or a URI's query parameter.
  for (size_t p = s.find("password="); p != std::string::npos;
       p = s.find("password=", p + 1)) {
    const size_t v = p + 9;
    size_t end = v;
    while (end < s.size() && s[end] != ' ' && s[end] != '&') ++end;
    s.replace(v, end - v, "***");
  }
  return s;
}

}  // namespace memoir::internal::pg
