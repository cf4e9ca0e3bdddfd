#include "reliability/fault_check.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "memoir/inspect.h"
#include "memoir/message_store.h"
#include "memoir/projection_store.h"
#include "memoir/store.h"
#include "reliability/fault_workload.h"

namespace memoir::test {
namespace {

using Code = Status::Code;

bool IsSyncOp(const std::string& op) {
  return op == "fdatasync" || op == "fsync" || op == "msync";
}

bool Contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

struct Checker {
  const Fault& fault;
  const Report& report;
  Figures& f;
  std::vector<std::string> problems;

  template <typename... Args>
  void Problem(Args&&... args) {
    std::ostringstream out;
    (out << ... << args);
    problems.push_back(out.str());
  }

  // Outcomes that are by design but differ from the general rule; each is
  // counted and printed.
  //  1. ENOSPC on LMDB's meta page write: LMDB marks the environment
  //     fatal (MDB_PANIC), so this full disk is final for the open store:
  //     the group and every later write get kIOError saying so and to
  //     reopen (fault_meta_page_test.cc checks it in-process).
  bool IsMetaPanic(const Error& e) const {
    return report.failed_meta_write && e.code == Code::kIOError &&
           Contains(e.message, "MDB_PANIC");
  }

  void CheckError(const Error& e, bool* any_io, bool* meta_panic) {
    const std::string where =
        std::string(1, e.tag) + " " + e.what + ": " + e.message;
    if (Contains(e.message, "stays usable") && Contains(e.message, "reopen")) {
      Problem("contradictory advice (usable, and reopen): ", where);
    }
    if (e.code == Code::kIOError) {
      ++f.errors_io;
      *any_io = true;
      // The cause, and for the store (not a failed open, which has no
      // store yet) the cure.
      if (!Contains(e.message, "Input/output error") &&
          !Contains(e.message, "No space left on device") &&
          !Contains(e.message, "MDB_PANIC")) {
        Problem("an I/O error that does not name the cause: ", where);
      }
      if (e.what != "open" && !Contains(e.message, "reopen")) {
        Problem("an I/O error that does not say to reopen the store: ", where);
      }
      if (!fault.enospc) return;
      if (IsMetaPanic(e)) {
        *meta_panic = true;
      } else if (Contains(e.message, "syncing store")) {
        // A failed sync is final, whatever its errno.
        ++f.sync_enospc_final;
      } else {
        Problem("ENOSPC reported as an I/O error: ", where);
      }
    } else if (e.code == Code::kStorageFull) {
      ++f.errors_full;
      if (!fault.enospc) Problem("EIO reported as storage full: ", where);
      if (!Contains(e.message, "No space left") &&
          !Contains(e.message, "full")) {
        Problem("storage full without saying so: ", where);
      }
    } else {
      Problem("unexpected code ", Status::CodeName(e.code), ": ", where);
    }
  }

  void CheckErrors() {
    const bool injected = report.injected_op.has_value();
    bool any_io = false, meta_panic = false, store_error = false;
    for (const Error& e : report.errors) {
      if (e.after_reopen) {
        Problem("error after the fault was lifted and the store reopened (",
                Status::CodeName(e.code), ") ", e.what, ": ", e.message);
      } else if (!injected) {
        Problem("error without an injected fault (", Status::CodeName(e.code),
                ") ", e.what, ": ", e.message);
      } else {
        CheckError(e, &any_io, &meta_panic);
        // A failed open leaves no store behind to probe: the child opens a
        // new one. Any other error is about the store the workload used.
        store_error |= e.what != "open";
      }
    }
    if (!injected) return;
    // A failed call on the data file must reach a caller: swallowed, it
    // could let an append be acknowledged that is not on disk.
    if (report.errors.empty() && report.injected_path &&
        Contains(*report.injected_path, "/data.mdb")) {
      if (fault.enospc && report.failed_before_close == 0) {
        // 2. Close's final transaction (the deferred index) failed with
        //    ENOSPC and Close returned OK: by design (Writer::Close returns
        //    fatal errors only), and nothing is lost: the log is the truth.
        ++f.close_swallowed_enospc;
      } else {
        Problem("the failed ", *report.injected_op, " on ",
                *report.injected_path, " reached no caller");
      }
    }
    if (!store_error) return;
    // A failed fsync is final for the open store (the kernel may have
    // dropped the pages): it must be an I/O error, never a retryable one.
    if (IsSyncOp(*report.injected_op) && !fault.enospc && !any_io) {
      Problem("a failed ", *report.injected_op,
              " was not reported as an I/O error");
    }
    if (meta_panic) ++f.meta_enospc_panics;
    auto same = report.probes.find("same");
    if (same == report.probes.end()) {
      bool closed = false;
      for (const Error& e : report.errors) closed |= e.what == "close";
      if (!closed) Problem("no probe of the same store after the fault");
      return;
    }
    const auto& [code, message] = same->second;
    if (any_io) {
      // After an I/O error or a failed sync the store must refuse writes
      // until it is reopened, and say so.
      if (code != Code::kIOError || !Contains(message, "reopen")) {
        Problem("after an I/O error the same store answered the probe with ",
                Status::CodeName(code), " '", message,
                "' instead of refusing until reopened");
      } else {
        ++f.refused_until_reopen;
      }
    } else {
      // Storage full is not final: the same open store writes again once
      // space is freed.
      if (code != Code::kOk) {
        Problem("after storage full and space freed the same store refused ",
                "an append: ", Status::CodeName(code), " '", message, "'");
      } else {
        ++f.full_then_same_store_ok;
      }
    }
  }

  void CheckChildBasics(const ChildRun& run) {
    if (!run.setup_error.empty()) {
      Problem("could not run the child: ", run.setup_error);
    } else if (run.hung) {
      Problem("hung: still running after ", run.timeout.count(), " s");
    } else if (WIFSIGNALED(run.status)) {
      Problem("died by signal ", WTERMSIG(run.status));
    } else if (WEXITSTATUS(run.status) != 0) {
      Problem("exited with status ", WEXITSTATUS(run.status));
    } else if (!report.end) {
      Problem("ended without its last line");
    }
    for (const std::string& l : report.unparsed) Problem("unparsed line: ", l);
    auto reopened = report.probes.find("reopened");
    if (reopened == report.probes.end() ||
        reopened->second.first != Code::kOk) {
      Problem("no successful append after reopening without the fault");
    }
  }

  // Reopens the store in this process (no fault armed here) and checks it
  // against the report.
  void CheckStore(const std::string& path) {
    auto opened = Store::Open(path);
    if (!opened.ok()) {
      Problem("reopening without faults: ", opened.status().ToString());
      return;
    }
    Store& store = **opened;
    struct Seen {
      uint64_t total = 0;
      std::set<uint64_t> indexes;
    };
    std::map<uint64_t, Seen> cids;
    std::map<std::pair<std::string, uint64_t>, uint64_t> cid_at;
    std::map<std::string, uint64_t> heads;
    Status s = store.journal().ScanAll(1, SIZE_MAX, [&](const EventView& e) {
      std::string stream(e.stream);
      uint64_t& head = heads[stream];
      if (e.seq != head + 1) {
        ++f.gaps;
        Problem("stream ", stream, " jumps from seq ", head, " to ", e.seq);
      }
      head = e.seq;
      uint64_t cid = 0, index = 0, total = 0;
      std::string payload(e.payload);
      if (std::sscanf(payload.c_str(), "c%lu:%lu/%lu:", &cid, &index, &total) !=
              3 ||
          payload != FaultEventPayload(cid, index, total)) {
        ++f.damaged;
        Problem("stream ", stream, " seq ", e.seq, " holds unknown bytes");
        return true;
      }
      cid_at[{stream, e.seq}] = cid;
      Seen& seen = cids[cid];
      seen.total = total;
      if (!seen.indexes.insert(index).second) {
        Problem("event ", index, " of request ", cid, " stored twice");
      }
      return true;
    });
    if (!s.ok()) Problem("reading everything back: ", s.ToString());
    for (auto& [cid, seen] : cids) {
      if (seen.indexes.size() != seen.total) {
        ++f.partial;
        Problem("request ", cid, " is partly stored: ", seen.indexes.size(),
                " of ", seen.total, " events");
      }
      if (report.failed_cids.count(cid) != 0) {
        ++f.phantom;
        Problem("request ", cid, " failed but is stored");
      }
    }
    for (const Ack& a : report.acks) {
      for (uint64_t seq = a.first; seq <= a.last; ++seq) {
        ++f.acked_events;
        auto it = cid_at.find({a.stream, seq});
        if (it == cid_at.end() || it->second != a.cid) {
          ++f.lost;
          Problem("acknowledged ", a.stream, " seq ", seq, " (request ", a.cid,
                  ") is missing after reopening");
        }
      }
    }
    CheckSnapshots(store);
    CheckProjection(store);
    CheckMessages(store);
    auto verify = VerifyStore(store);
    if (!verify.ok()) {
      Problem("verify: ", verify.status().ToString());
    } else if (!verify->ok()) {
      Problem("verify found ", verify->problem_count, " problems, first: ",
              verify->problems.empty() ? "" : verify->problems[0].what);
    }
    auto more = store.journal().Append("after", Expected::Any(),
                                       {{"Fault", "after", 1, {}}});
    if (!more.ok())
      Problem("append after reopening: ", more.status().ToString());
  }

  // The inline projection's rows count each stream's events up to its
  // checkpoint, and that checkpoint covers every commit made while it was
  // attached: a commit carried the events and the model together, or
  // neither.
  void CheckProjection(Store& store) {
    if (!report.projection || !report.projection->started) return;
    const Report::Inline& j = *report.projection;
    auto tables = InStoreProjections(store);
    if (!tables.ok()) {
      Problem("projection tables: ", tables.status().ToString());
      return;
    }
    auto v1 = (*tables)->ReadVersion(kFaultProjection, 1);
    if (!v1.ok()) {
      Problem("reading the inline projection: ", v1.status().ToString());
      return;
    }
    const uint64_t checkpoint = (*v1)->version().checkpoint;
    if (checkpoint < j.checkpoint) {
      ++f.lost;
      Problem("the inline projection is at position ", checkpoint,
              " after reopening, before the ", j.checkpoint, " it had reached");
    }
    if (j.attached && j.detaches == 0 && checkpoint < j.head) {
      ++f.partial;
      Problem("events up to position ", j.head,
              " committed while the inline projection was attached, but it "
              "is at ",
              checkpoint);
    }
    std::map<std::string, std::string> fold;
    std::map<std::string, uint64_t> counts;
    Status s = store.journal().ScanAll(1, SIZE_MAX, [&](const EventView& e) {
      if (e.position > checkpoint) return false;
      ++counts[std::string(e.stream)];
      return true;
    });
    if (!s.ok()) Problem("reading the log: ", s.ToString());
    for (const auto& [stream, n] : counts) fold[stream] = std::to_string(n);
    std::map<std::string, std::string> rows;
    s = (*v1)->Scan("events", "", [&](std::string_view k, std::string_view v) {
      rows[std::string(k)] = std::string(v);
      return true;
    });
    if (!s.ok()) Problem("reading the projection: ", s.ToString());
    if (rows != fold) {
      ++f.partial;
      Problem(
          "the inline projection's counts differ from the log's up to "
          "its checkpoint ",
          checkpoint);
    }
  }

  // Each sender's event has its message either waiting in the outbox or
  // taken by exactly one receiver's event, never both; nothing waits or
  // was taken without its sender's event; each receiver's inbox holds the
  // id of the last message it took; a message refused (even requests) has
  // its refusal pending for its sender exactly when it was taken.
  void CheckMessages(Store& store) {
    auto messages = InStoreMessages(store);
    if (!messages.ok()) {
      Problem("messages: ", messages.status().ToString());
      return;
    }
    auto ends_with = [](const std::string& s, const char* tail) {
      const size_t n = std::strlen(tail);
      return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
    };
    struct Sent {
      std::string stream;
      uint64_t seq = 0;
    };
    std::map<uint64_t, Sent> sent;            // by the sender's request
    std::map<uint64_t, std::string> taken;    // request -> receiver
    std::map<std::string, uint64_t> last_of;  // receiver -> last request
    Status s = store.journal().ScanAll(1, SIZE_MAX, [&](const EventView& e) {
      const std::string stream(e.stream);
      uint64_t cid = 0, index = 0, total = 0;
      if (std::sscanf(std::string(e.payload).c_str(), "c%lu:%lu/%lu:", &cid,
                      &index, &total) != 3) {
        return true;  // reported by CheckStore
      }
      if (ends_with(stream, "-m")) sent[cid] = {stream, e.seq};
      if (ends_with(stream, "-r")) {
        const uint64_t of = cid - kTakeCid;
        if (!taken.emplace(of, stream).second) {
          ++f.phantom;
          Problem("the message of request ", of, " was taken twice");
        }
        last_of[stream] = of;
      }
      return true;
    });
    if (!s.ok()) Problem("reading the log for messages: ", s.ToString());
    auto waiting = (*messages)->Waiting({}, 100000);
    if (!waiting.ok()) {
      Problem("reading the outbox: ", waiting.status().ToString());
      return;
    }
    std::set<uint64_t> waits;
    for (const StoredMessage& m : *waiting) {
      uint64_t cid = 0, index = 0, total = 0;
      if (std::sscanf(m.payload.c_str(), "c%lu:%lu/%lu:", &cid, &index,
                      &total) != 3 ||
          m.payload != FaultEventPayload(cid, 0, 1) || m.type != kMessageType) {
        ++f.damaged;
        Problem("outbox entry ", m.key.position, "#", m.key.n,
                " holds unknown bytes");
        continue;
      }
      waits.insert(cid);
      auto it = sent.find(cid);
      if (it == sent.end()) {
        ++f.phantom;
        Problem("the message of request ", cid,
                " waits in the outbox without its sender's event");
      } else if (!(m.id == DeliveryId{it->second.stream, it->second.seq, 0})) {
        ++f.damaged;
        Problem("the message of request ", cid, " has the wrong id");
      }
      if (taken.count(cid) != 0) {
        ++f.phantom;
        Problem("the message of request ", cid,
                " was taken and still waits in the outbox");
      }
    }
    for (const auto& [cid, where] : sent) {
      ++f.messages;
      if (waits.count(cid) == 0 && taken.count(cid) == 0) {
        ++f.lost;
        Problem("the event of request ", cid, " in ", where.stream,
                " was committed without its message");
      }
    }
    for (const auto& [cid, receiver] : taken) {
      if (sent.count(cid) == 0) {
        ++f.phantom;
        Problem(receiver, " took the message of request ", cid,
                " whose sender's event is not stored");
      }
    }
    CheckRefusals(**messages, sent, taken);
    for (const auto& [receiver, cid] : last_of) {
      auto it = sent.find(cid);
      if (it == sent.end()) continue;
      auto last = (*messages)->LastTaken(receiver, it->second.stream);
      if (!last.ok() ||
          !(*last == DeliveryId{it->second.stream, it->second.seq, 0})) {
        ++f.partial;
        Problem("the inbox of ", receiver,
                " does not hold its last take (request ", cid, ")");
      }
    }
  }

  template <typename SentMap>
  void CheckRefusals(MessageStore& messages, const SentMap& sent,
                     const std::map<uint64_t, std::string>& taken) {
    auto timers = messages.Timers("", "", 100000);
    if (!timers.ok()) {
      Problem("reading the timers: ", timers.status().ToString());
      return;
    }
    std::set<uint64_t> refused;
    for (const StoredTimer& t : *timers) {
      auto r = DecodeRefusal(t.payload);
      uint64_t cid = 0, index = 0, total = 0;
      if (t.type != kRefusalType || !r.ok() ||
          std::sscanf(r->command_payload.c_str(), "c%lu:%lu/%lu:", &cid, &index,
                      &total) != 3) {
        ++f.damaged;
        Problem("timer '", t.key, "' of ", t.stream, " is not a refusal");
        continue;
      }
      refused.insert(cid);
      auto it = sent.find(cid);
      if (it == sent.end() || t.stream != it->second.stream ||
          t.key != RefusalTimerKey(r->id) || r->id != t.id) {
        ++f.phantom;
        Problem("the refusal of request ", cid,
                " is pending without its sender's event, or misnamed");
      }
    }
    for (const auto& [cid, receiver] : taken) {
      const bool want = cid % 2 == 0;
      if (want != (refused.count(cid) != 0)) {
        ++f.partial;
        Problem(receiver, " took the message of request ", cid,
                want ? " by refusing it, without its refusal"
                     : " and a refusal of it is pending");
      }
    }
    for (uint64_t cid : refused) {
      if (taken.count(cid) == 0) {
        ++f.phantom;
        Problem("a refusal of request ", cid, " is pending, but no receiver",
                " took it");
      }
    }
  }

  void CheckSnapshots(Store& store) {
    for (const auto& [stream, seq] : report.snapshots) {
      ++f.acked_snapshots;
      SnapshotCriteria at;
      at.min_seq = at.max_seq = seq;
      auto got = store.snapshots().LoadLatest(stream, at);
      if (!got.ok() || !got->snapshot ||
          got->snapshot->payload != FaultSnapshotPayload(stream, seq)) {
        ++f.lost;
        Problem("acknowledged snapshot ", stream, " @", seq,
                " is missing or wrong after reopening");
      }
    }
    for (const auto& [stream, seq] : report.failed_snapshots) {
      if (report.snapshots.count({stream, seq}) != 0) continue;
      auto list = store.snapshots().List(stream);
      if (!list.ok()) continue;
      for (const SnapshotInfo& info : *list) {
        if (info.seq == seq) {
          ++f.phantom;
          Problem("snapshot ", stream, " @", seq, " failed but is stored");
        }
      }
    }
  }
};

}  // namespace

std::vector<std::string> CheckFaultRun(const Fault& fault, const ChildRun& run,
                                       const Report& report,
                                       const std::string& store, Figures* f) {
  Checker c{fault, report, *f, {}};
  c.CheckChildBasics(run);
  c.CheckErrors();
  if (!run.hung && run.setup_error.empty()) c.CheckStore(store);
  return c.problems;
}

}  // namespace memoir::test
