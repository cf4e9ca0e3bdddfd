// libpq, wrapped: one connection, statements with binary parameters and
// results, and PostgreSQL's errors translated into memoir's Status codes.
#ifndef MEMOIR_POSTGRES_PG_CONN_H_
#define MEMOIR_POSTGRES_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/status.h"

namespace memoir::internal::pg {

// Big-endian integers, as PostgreSQL's binary format has them.
void PutInt32(std::string* out, int32_t v);
void PutInt64(std::string* out, int64_t v);
int32_t GetInt32(const char* p);
int64_t GetInt64(const char* p);

// Type oids of the binary parameters memoir sends.
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kUuidOid = 2950;
inline constexpr Oid kByteaArrayOid = 1001;
inline constexpr Oid kInt4ArrayOid = 1007;
inline constexpr Oid kTextArrayOid = 1009;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kUuidArrayOid = 2951;

// A one-dimensional array in PostgreSQL's binary format, built element by
// element.
class ArrayBuilder {
 public:
  explicit ArrayBuilder(Oid element) : element_(element) {}
  void AddInt32(int32_t v);
  void AddInt64(int64_t v);
  void AddBytes(std::string_view v);  // bytea, text
  void AddUuid(const uint8_t (&bytes)[16]);
  void AddNull();
  size_t size() const { return count_; }
  // The array's bytes; the builder is spent.
  std::string Finish();

 private:
  Oid element_;
  size_t count_ = 0;
  bool has_null_ = false;
  std::string body_;
};

// Statement parameters, all sent in binary.
class Params {
 public:
  void Int64(int64_t v);
  void Int32(int32_t v);
  void Bool(bool v);
  void Text(std::string_view v);
  void Bytea(std::string_view v);
  void Array(Oid array_type, std::string bytes);
  void Null(Oid type);
  int count() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values();
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Add(Oid type, std::string bytes, bool null);
  std::vector<Oid> types_;
  std::vector<std::string> storage_;
  std::vector<bool> null_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A statement's result; binary columns.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool null(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  int64_t Int64(int row, int col) const;
  int32_t Int32(int row, int col) const;
  bool Bool(int row, int col) const;
  std::string_view Bytes(int row, int col) const;  // bytea, text
  // A uuid column's 16 bytes; all zero when null.
  void Uuid16(int row, int col, uint8_t (&out)[16]) const;

 private:
  std::shared_ptr<PGresult> r_;
};

// How a statement ended, beyond its Status: whether the server may have
// committed it although no answer came.
enum class Fate { kDone, kNotSent, kUnknown };

class Conn {
 public:
  // Connects; kIOError with libpq's message (password masked) when it
  // cannot.
  static Status Connect(const std::string& conninfo,
                        std::unique_ptr<Conn>* out);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs `sql` with `params` (binary results). `what` names the operation in
  // error messages. On a failure `*fate` (if given) tells whether the
  // statement may have run.
  Status Exec(std::string_view what, const std::string& sql, Params* params,
              Rows* rows, Fate* fate = nullptr);
  // A statement without parameters, text results ignored.
  Status Simple(std::string_view what, const std::string& sql);
  bool broken() const;
  // Reads what the server sent while the connection sat idle (without
  // blocking) and says whether it is still usable: a connection the server
  // closed meanwhile is found here, before a statement is sent on it.
  bool Alive();
  int socket() const { return PQsocket(conn_); }
  PGconn* raw() { return conn_; }
  // The server's version number (150020 for 15.20).
  int server_version() const { return PQserverVersion(conn_); }

 private:
  explicit Conn(PGconn* c) : conn_(c) {}
  // libpq's notice receiver: a FATAL message that arrives on an idle
  // connection (the server ending the session) is handed over as a notice;
  // it marks the connection dead although the socket may still be open.
  static void OnNotice(void* conn, const PGresult* notice);
  PGconn* conn_;
  bool fatal_ = false;
};

// The Status for a failed statement: SQLSTATE mapped to a code, the
// server's message and `what` in the text.
Status StatusOf(std::string_view what, const PGresult* r, PGconn* conn);

// `conninfo` with any password replaced by "***", for messages and
// Store::path().
std::string MaskPassword(std::string_view conninfo);

}  // namespace memoir::internal::pg

#endif  // MEMOIR_POSTGRES_PG_CONN_H_
