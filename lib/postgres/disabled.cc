// memoir/postgres.h in a build without the PostgreSQL backend
// (MEMOIR_POSTGRES=OFF): every entry point says so, so that a program
// written for both backends still links.
#include "memoir/postgres.h"

namespace memoir {
namespace {

Status NotBuilt() {
  return Status::InvalidArgument(
      "this memoir was built without the PostgreSQL backend "
      "(MEMOIR_POSTGRES=OFF); rebuild it with libpq (libpq-dev) to use a "
      "PostgreSQL store");
}

}  // namespace

bool IsPostgresUri(std::string_view path) {
  return path.rfind("postgresql://", 0) == 0 ||
         path.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenPostgres(const std::string&,
                                            const StoreOptions&,
                                            const PostgresOptions&) {
  return NotBuilt();
}

Result<PostgresStoreInfo> InspectPostgres(Store&) { return NotBuilt(); }

Status DropPostgresStore(const std::string&, const std::string&) {
  return NotBuilt();
}

}  // namespace memoir
