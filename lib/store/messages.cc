// The store's durable messages (memoir/message_store.h, store/messages.h).
#include "store/messages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <utility>

#include "storage/bytes.h"
#include "storage/checksum.h"
#include "storage/lmdb_error.h"
#include "store/blocking_op.h"
#include "store/store_internal.h"

namespace memoir::internal {
namespace {

constexpr char kOutbox[] = "outbox";
constexpr char kInbox[] = "inbox";
constexpr char kTimers[] = "timers";
constexpr size_t kTimerFixed = 44;  // seq, n, due, set, version, 3 lengths
constexpr size_t kOutboxKeyBytes = 12;
constexpr size_t kOutboxFixed = 40;  // seq, sent_ns, version, five lengths
// A record whose sender wants refusals back (format 3) sets this bit in its
// fifth length (metadata's, which is far below it) and has a sixth length,
// the reply type's, after the five; the reply type follows the metadata.
// Every other record keeps format 2's layout byte for byte.
constexpr uint32_t kOutboxReplyFlag = 0x8000'0000u;
// A rejection's reason is kept up to this many bytes in a Refusal.
constexpr size_t kMaxRefusalReasonBytes = 4096;
constexpr size_t kInboxBytes = 20;  // seq, n, checksum

struct OutboxKeyBytes {
  explicit OutboxKeyBytes(MessageKey k) {
    PutBig64(bytes, k.position);
    PutBig32(bytes + 8, k.n);
  }
  MDB_val val() { return MDB_val{kOutboxKeyBytes, bytes}; }
  char bytes[kOutboxKeyBytes];
};

std::string Describe(MessageKey k) {
  return fmt::format("outbox entry {}#{}", k.position, k.n);
}

std::string InboxKey(std::string_view receiver, std::string_view sender) {
  std::string key(receiver);
  key.push_back('\0');
  key += sender;
  return key;
}

std::string EncodeOutbox(const StoredMessage& m) {
  const bool reply = !m.reply_type.empty();
  std::string out(kOutboxFixed + (reply ? 4 : 0), '\0');
  PutLittle64(out.data(), m.id.seq);
  PutLittle64(out.data() + 8, static_cast<uint64_t>(m.sent_ns));
  PutLittle32(out.data() + 16, m.schema_version);
  PutLittle32(out.data() + 20, static_cast<uint32_t>(m.id.sender.size()));
  PutLittle32(out.data() + 24, static_cast<uint32_t>(m.receiver_type.size()));
  PutLittle32(out.data() + 28, static_cast<uint32_t>(m.receiver.size()));
  PutLittle32(out.data() + 32, static_cast<uint32_t>(m.type.size()));
  PutLittle32(out.data() + 36, static_cast<uint32_t>(m.metadata.size()) |
                                   (reply ? kOutboxReplyFlag : 0));
  if (reply) {
    PutLittle32(out.data() + 40, static_cast<uint32_t>(m.reply_type.size()));
  }
  out.reserve(out.size() + m.id.sender.size() + m.receiver_type.size() +
              m.receiver.size() + m.type.size() + m.metadata.size() +
              m.reply_type.size() + m.payload.size() + 8);
  out += m.id.sender;
  out += m.receiver_type;
  out += m.receiver;
  out += m.type;
  out += m.metadata;
  out += m.reply_type;
  out += m.payload;
  char sum[8];
  PutLittle64(sum, Checksum(out.data(), out.size()));
  out.append(sum, 8);
  return out;
}

// False when the record is damaged (size, lengths or checksum).
bool DecodeOutbox(std::string_view key, std::string_view value,
                  StoredMessage* m) {
  if (key.size() != kOutboxKeyBytes || value.size() < kOutboxFixed + 8) {
    return false;
  }
  const char* v = value.data();
  const size_t body = value.size() - 8;
  if (GetLittle64(v + body) != Checksum(v, body)) return false;
  const bool reply = (GetLittle32(v + 36) & kOutboxReplyFlag) != 0;
  const size_t fixed = kOutboxFixed + (reply ? 4 : 0);
  if (body < fixed) return false;
  uint64_t lengths[6] = {};
  uint64_t total = fixed;
  for (int i = 0; i < (reply ? 6 : 5); ++i) {
    lengths[i] = GetLittle32(v + 20 + 4 * i) & ~kOutboxReplyFlag;
    total += lengths[i];
  }
  if (total > body || (reply && lengths[5] == 0)) return false;
  m->key.position = GetBig64(key.data());
  m->key.n = GetBig32(key.data() + 8);
  m->id.seq = GetLittle64(v);
  m->id.n = m->key.n;
  m->sent_ns = static_cast<int64_t>(GetLittle64(v + 8));
  m->schema_version = GetLittle32(v + 16);
  const char* at = v + fixed;
  std::string* fields[6] = {&m->id.sender, &m->receiver_type, &m->receiver,
                            &m->type,      &m->metadata,      &m->reply_type};
  for (int i = 0; i < 6; ++i) {
    fields[i]->assign(at, lengths[i]);
    at += lengths[i];
  }
  m->payload.assign(at, static_cast<size_t>(v + body - at));
  return true;
}

// `reason` cut to kMaxRefusalReasonBytes, not inside a UTF-8 sequence.
std::string CutReason(std::string_view reason) {
  size_t cut = std::min(reason.size(), kMaxRefusalReasonBytes);
  while (cut > 0 && cut < reason.size() &&
         (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return std::string(reason.substr(0, cut));
}

std::string_view AsView(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

std::string TimerKey(std::string_view stream, std::string_view key) {
  return InboxKey(stream, key);  // the same shape: stream \0 key
}

std::string EncodeTimer(const StoredTimer& t) {
  std::string out(kTimerFixed, '\0');
  PutLittle64(out.data(), t.id.seq);
  PutLittle32(out.data() + 8, t.id.n);
  PutLittle64(out.data() + 12, static_cast<uint64_t>(t.due_ns));
  PutLittle64(out.data() + 20, static_cast<uint64_t>(t.set_ns));
  PutLittle32(out.data() + 28, t.schema_version);
  PutLittle32(out.data() + 32, static_cast<uint32_t>(t.receiver_type.size()));
  PutLittle32(out.data() + 36, static_cast<uint32_t>(t.type.size()));
  PutLittle32(out.data() + 40, static_cast<uint32_t>(t.metadata.size()));
  out += t.receiver_type;
  out += t.type;
  out += t.metadata;
  out += t.payload;
  char sum[8];
  PutLittle64(sum, Checksum(out.data(), out.size()));
  out.append(sum, 8);
  return out;
}

// False when the record or its key is damaged.
bool DecodeTimer(std::string_view key, std::string_view value, StoredTimer* t) {
  const size_t nul = key.find('\0');
  if (nul == std::string_view::npos || value.size() < kTimerFixed + 8) {
    return false;
  }
  const char* v = value.data();
  const size_t body = value.size() - 8;
  if (GetLittle64(v + body) != Checksum(v, body)) return false;
  uint64_t lengths[3];
  uint64_t total = kTimerFixed;
  for (int i = 0; i < 3; ++i) {
    lengths[i] = GetLittle32(v + 32 + 4 * i);
    total += lengths[i];
  }
  if (total > body) return false;
  t->stream.assign(key.substr(0, nul));
  t->key.assign(key.substr(nul + 1));
  t->id = {t->stream, GetLittle64(v), GetLittle32(v + 8)};
  t->due_ns = static_cast<int64_t>(GetLittle64(v + 12));
  t->set_ns = static_cast<int64_t>(GetLittle64(v + 20));
  t->schema_version = GetLittle32(v + 28);
  const char* at = v + kTimerFixed;
  std::string* fields[3] = {&t->receiver_type, &t->type, &t->metadata};
  for (int i = 0; i < 3; ++i) {
    fields[i]->assign(at, lengths[i]);
    at += lengths[i];
  }
  t->payload.assign(at, static_cast<size_t>(v + body - at));
  return true;
}

std::string DescribeTimer(std::string_view stream, std::string_view key) {
  return fmt::format("timer '{}' of '{}'", key, stream);
}

// The inbox record `value` into *out; false when damaged.
bool DecodeInbox(const MDB_val& value, DeliveryId* out) {
  if (value.mv_size != kInboxBytes) return false;
  const char* v = static_cast<const char*>(value.mv_data);
  if (GetLittle64(v + 12) != Checksum(v, 12)) return false;
  out->seq = GetLittle64(v);
  out->n = GetLittle32(v + 8);
  return true;
}

// (seq, n) order: the order of one sender's messages.
bool Before(const DeliveryId& a, const DeliveryId& b) {
  return a.seq < b.seq || (a.seq == b.seq && a.n < b.n);
}

Status ValidateMessage(const OutgoingMessage& m, size_t events, size_t i) {
  auto bad = [&](std::string what) {
    return Status::InvalidArgument(
        fmt::format("message {} to send: {}", i, what));
  };
  if (m.receiver_type.empty() ||
      m.receiver_type.size() > kMaxMessageTypeBytes) {
    return bad(fmt::format("a receiver type must be 1 to {} bytes, got {}",
                           kMaxMessageTypeBytes, m.receiver_type.size()));
  }
  if (Status s = ValidateStreamName(m.receiver); !s.ok()) {
    return bad(fmt::format("receiver: {}", s.message()));
  }
  if (m.command.type.empty() || m.command.type.size() > kMaxTypeNameBytes) {
    return bad(fmt::format("a command type must be 1 to {} bytes, got {}",
                           kMaxTypeNameBytes, m.command.type.size()));
  }
  if (m.command.payload.size() > kMaxPayloadBytes) {
    return bad(fmt::format("a payload of {} bytes is over the limit of {}",
                           m.command.payload.size(), kMaxPayloadBytes));
  }
  if (m.command.metadata.size() > kMaxMetadataBytes) {
    return bad(fmt::format("metadata of {} bytes is over the limit of {}",
                           m.command.metadata.size(), kMaxMetadataBytes));
  }
  if (m.with_event != OutgoingMessage{}.with_event && m.with_event >= events) {
    return bad(fmt::format("with_event {} is past the append's {} events",
                           m.with_event, events));
  }
  if (m.command.type == kRefusalType) {
    return bad(
        fmt::format("the command type '{}' is memoir's own (refusals "
                    "sent back)",
                    kRefusalType));
  }
  if (m.reply_type.size() > kMaxMessageTypeBytes) {
    return bad(fmt::format("a reply type must be at most {} bytes, got {}",
                           kMaxMessageTypeBytes, m.reply_type.size()));
  }
  return Status::OK();
}

Status ValidateCommit(const MessageCommit& c) {
  if (Status s = ValidateStreamName(c.append.stream); !s.ok()) return s;
  if (c.append.events.empty() && c.send.empty() && c.take.empty() &&
      c.fire.empty() && c.timers.empty()) {
    return Status::InvalidArgument(fmt::format(
        "a message commit for stream '{}' has no events, no messages to "
        "send and none to take",
        c.append.stream));
  }
  if (c.append.events.empty() && !c.send.empty()) {
    return Status::InvalidArgument(fmt::format(
        "stream '{}' sends {} messages without events: a message is "
        "written with the event that sends it",
        c.append.stream, c.send.size()));
  }
  if (c.send.size() + c.take.size() > kMaxMessagesPerCommit) {
    return Status::InvalidArgument(fmt::format(
        "a message commit for stream '{}' sends {} and takes {} messages; "
        "at most {} together",
        c.append.stream, c.send.size(), c.take.size(), kMaxMessagesPerCommit));
  }
  for (size_t i = 0; i < c.send.size(); ++i) {
    Status s = ValidateMessage(c.send[i], c.append.events.size(), i);
    if (!s.ok()) return s;
  }
  if (c.append.events.empty() && !c.timers.empty()) {
    return Status::InvalidArgument(fmt::format(
        "stream '{}' changes {} timers without events: a timer is started "
        "or cancelled with the event that says why",
        c.append.stream, c.timers.size()));
  }
  if (c.timers.size() + c.fire.size() > kMaxMessagesPerCommit) {
    return Status::InvalidArgument(fmt::format(
        "a message commit for stream '{}' changes {} and fires {} timers; "
        "at most {} together",
        c.append.stream, c.timers.size(), c.fire.size(),
        kMaxMessagesPerCommit));
  }
  for (size_t i = 0; i < c.timers.size(); ++i) {
    const TimerChange& t = c.timers[i];
    auto bad = [&](std::string what) {
      return Status::InvalidArgument(
          fmt::format("timer change {} ('{}'): {}", i, t.key, what));
    };
    if (Status s = ValidateStreamName(t.key); !s.ok()) {
      return bad(fmt::format("key: {}", s.message()));
    }
    if (t.key.front() == '$') {
      return bad(
          "keys starting with '$' are memoir's own (refusals sent "
          "back use them)");
    }
    if (t.cancel) continue;
    OutgoingMessage as_message;
    as_message.receiver_type = t.receiver_type;
    as_message.receiver = c.append.stream;
    as_message.command = t.command;
    as_message.with_event = t.with_event;
    if (Status s = ValidateMessage(as_message, c.append.events.size(), i);
        !s.ok()) {
      return bad(std::string(s.message()));
    }
    if (t.at_ns < 0 || t.after_ns < 0) {
      return bad(fmt::format("a negative time (at_ns {}, after_ns {})", t.at_ns,
                             t.after_ns));
    }
  }
  for (size_t i = 0; i < c.fire.size(); ++i) {
    const FiredTimer& f = c.fire[i];
    if (!ValidateStreamName(f.key).ok() || f.id.sender != c.append.stream ||
        f.id.seq == 0) {
      return Status::InvalidArgument(fmt::format(
          "timer {} to fire: not a key and id as Timers gave them ('{}', "
          "'{}' seq {} #{})",
          i, f.key, f.id.sender, f.id.seq, f.id.n));
    }
  }
  for (size_t i = 0; i < c.take.size(); ++i) {
    const TakenMessage& t = c.take[i];
    Status s = ValidateStreamName(t.id.sender);
    if (!s.ok() || t.id.seq == 0 || t.key.position == 0 || t.key.n != t.id.n) {
      return Status::InvalidArgument(fmt::format(
          "message {} to take: not an outbox entry and id as Waiting or "
          "Commit gave them ({}, sender '{}' seq {} #{})",
          i, Describe(t.key), t.id.sender, t.id.seq, t.id.n));
    }
  }
  return Status::OK();
}

class InStoreMessageStore final : public MessageStore {
 public:
  explicit InStoreMessageStore(MessagesImpl* impl) : impl_(impl) {}
  void Commit(MessageCommit commit, CommitCallback done) override {
    impl_->Commit(std::move(commit), std::move(done));
  }
  using MessageStore::Commit;
  Result<std::vector<StoredMessage>> Waiting(MessageKey after,
                                             size_t max) override {
    return impl_->Waiting(after, max);
  }
  Result<DeliveryId> LastTaken(std::string_view receiver,
                               std::string_view sender) override {
    return impl_->LastTaken(receiver, sender);
  }
  Result<std::vector<StoredTimer>> Timers(std::string_view stream,
                                          std::string_view key, size_t max,
                                          size_t* damaged) override {
    return impl_->Timers(stream, key, max, damaged);
  }
  using MessageStore::Timers;
  Result<std::optional<StoredTimer>> FindTimer(std::string_view stream,
                                               std::string_view key) override {
    return impl_->FindTimer(stream, key);
  }
  int64_t NowNanos() override { return impl_->NowNanos(); }
  Result<AppendResult> Drop(MessageKey key, std::string_view reason) override {
    return impl_->Drop(key, reason);
  }
  Result<std::vector<std::string>> DropTimers(
      std::string_view stream) override {
    return impl_->DropTimers(stream);
  }

 private:
  MessagesImpl* impl_;
};

}  // namespace

// One MessageCommit inside the group commit. Checks every message to take
// first (nothing written yet, so a refusal writes nothing), then appends,
// then writes the sent messages and the takes.
class MessagesImpl::CommitOp final : public WriteOp {
 public:
  CommitOp(MessagesImpl* owner, MDB_dbi outbox, MDB_dbi inbox, MDB_dbi timers,
           MessageCommit commit, std::unique_ptr<PreparedAppend> append,
           MessageStore::CommitCallback done, bool dead_letter = false)
      : owner_(owner),
        outbox_(outbox),
        inbox_(inbox),
        timers_(timers),
        stream_(std::move(commit.append.stream)),
        expected_(commit.append.expected),
        events_(commit.append.events.size()),
        send_(std::move(commit.send)),
        take_(std::move(commit.take)),
        fire_(std::move(commit.fire)),
        timer_changes_(std::move(commit.timers)),
        append_(std::move(append)),
        done_(std::move(done)),
        dead_letter_(dead_letter) {
    bytes_ = (append_ ? append_->bytes() : 0) + 64;
    for (const OutgoingMessage& m : send_) {
      bytes_ += kOutboxFixed + 64 + m.receiver.size() + m.command.type.size() +
                m.command.payload.size() + m.command.metadata.size();
    }
    bytes_ += take_.size() * (kInboxBytes + 2 * kMaxStreamNameBytes + 64);
    for (const TakenMessage& t : take_) {
      // A refusal sent back: a timer record holding the refused command.
      if (t.refused) bytes_ += kTimerFixed + t.reason.size() + 1024;
    }
    bytes_ += fire_.size() * (2 * kMaxStreamNameBytes + 64);
    for (const TimerChange& t : timer_changes_) {
      bytes_ += kTimerFixed + 64 + t.key.size() + t.receiver_type.size() +
                t.command.type.size() + t.command.payload.size() +
                t.command.metadata.size();
    }
  }
  size_t bytes() const override { return bytes_; }

  int Apply(MDB_txn* txn, Status* op_status) override {
    result_ = {};
    refused_.clear();
    int rc = CheckTakes(txn, op_status);
    if (rc != 0 || !op_status->ok()) return rc;
    rc = CheckFires(txn, op_status);
    if (rc != 0 || !op_status->ok()) return rc;
    if (!append_) {
      // No events: the expectation still holds the takes to the stream's
      // head (an actor's refusal must not outlive a failed earlier write).
      JournalLink::StreamHead st;
      Status found = owner_->journal_.writer_lookup(txn, stream_, &st, &rc);
      if (rc != 0) return rc;
      if (!found.ok() && !found.IsNotFound()) {
        *op_status = found;
        return 0;
      }
      if (found.ok() && st.deleted) {
        *op_status = Status::StreamDeleted(fmt::format(
            "stream '{}' is deleted; it cannot take messages", stream_));
        return 0;
      }
      const uint64_t head = found.ok() ? st.head : 0;
      if (!expected_.Holds(head)) {
        *op_status = Status::Conflict(
            fmt::format("stream '{}' is at seq {}, not at seq {} as the "
                        "message commit expected",
                        stream_, head, expected_.seq()),
            head);
        return 0;
      }
    }
    if (append_) {
      JournalLink::StreamHead before;
      Status found = owner_->journal_.writer_lookup(txn, stream_, &before, &rc);
      if (rc != 0) return rc;
      rc = append_->Apply(txn, op_status);
      if (rc != 0 || !op_status->ok()) return rc;
      result_.append = append_->result();
      // An idempotent retry of stored events writes nothing and answers as
      // the first time; its messages were written with them then (and may
      // have been taken since), so it writes and lists none.
      const bool repeat = found.ok() && result_.append.last_seq <= before.head;
      if (repeat && (!take_.empty() || !fire_.empty())) {
        *op_status = Status::InvalidArgument(fmt::format(
            "stream '{}': the events are stored already (their ids repeat "
            "an earlier append), so no message or timer can be taken with "
            "them",
            stream_));
        return 0;
      }
      if (repeat) return 0;
      const AppendResult& r = result_.append;
      if (r.last_seq - r.first_seq + 1 != events_ ||
          r.last_position - r.first_position + 1 != events_) {
        // A new append's events are consecutive in its stream and in the
        // log; anything else is the journal breaking its contract, and with
        // the events written the op can no longer refuse alone.
        return EINVAL;
      }
    }
    const int64_t now = owner_->clock_->NowNanos();
    std::map<size_t, uint32_t> next_n;  // per event of the append
    for (OutgoingMessage& m : send_) {
      const size_t i = std::min(m.with_event, events_ - 1);
      StoredMessage s;
      s.key = {result_.append.first_position + i, next_n[i]++};
      s.id = {stream_, result_.append.first_seq + i, s.key.n};
      s.receiver_type = m.receiver_type;
      s.receiver = m.receiver;
      s.type = m.command.type;
      s.schema_version = m.command.schema_version;
      s.payload = m.command.payload;
      s.metadata = m.command.metadata;
      s.sent_ns = now;
      s.reply_type = m.reply_type;
      const std::string record = EncodeOutbox(s);
      OutboxKeyBytes key(s.key);
      MDB_val k = key.val();
      MDB_val v{record.size(), const_cast<char*>(record.data())};
      rc = mdb_put(txn, outbox_, &k, &v, MDB_NOOVERWRITE);
      if (rc != 0) return rc == MDB_KEYEXIST ? EINVAL : rc;
      result_.sent.push_back(std::move(s));
    }
    for (const TakenMessage& t : take_) {
      OutboxKeyBytes key(t.key);
      MDB_val k = key.val();
      rc = mdb_del(txn, outbox_, &k, nullptr);
      if (rc != 0) return rc == MDB_NOTFOUND ? EINVAL : rc;
      if (dead_letter_) continue;  // dropped: no one took it
      const std::string inbox_key = InboxKey(stream_, t.id.sender);
      char record[kInboxBytes];
      PutLittle64(record, t.id.seq);
      PutLittle32(record + 8, t.id.n);
      PutLittle64(record + 12, Checksum(record, 12));
      MDB_val ik{inbox_key.size(), const_cast<char*>(inbox_key.data())};
      MDB_val iv{kInboxBytes, record};
      rc = mdb_put(txn, inbox_, &ik, &iv, 0);
      if (rc != 0) return rc;
    }
    for (const auto& [reason, m] : refused_) {
      rc = SendBack(txn, reason, m, now);
      if (rc != 0) return rc;
    }
    for (const FiredTimer& f : fire_) {
      const std::string key = TimerKey(stream_, f.key);
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      rc = mdb_del(txn, timers_, &k, nullptr);
      if (rc != 0) return rc == MDB_NOTFOUND ? EINVAL : rc;
    }
    return ApplyTimerChanges(txn, now);
  }

  void Done(Status status) override {
    if (status.ok()) {
      done_(std::move(result_));
    } else {
      done_(std::move(status));
    }
  }

 private:
  // Every message to take must wait in the outbox for this stream, with
  // the id it was taken with, and come after what the inbox holds (and
  // after the earlier takes of this commit) for its sender.
  int CheckTakes(MDB_txn* txn, Status* op_status) {
    std::map<std::string, DeliveryId, std::less<>> last;
    for (const TakenMessage& t : take_) {
      OutboxKeyBytes key(t.key);
      MDB_val k = key.val();
      MDB_val v;
      int rc = mdb_get(txn, outbox_, &k, &v);
      if (rc == MDB_NOTFOUND) {
        *op_status = Status::NotFound(fmt::format(
            "stream '{}' cannot take the message {} (sender '{}' seq {} #{}): "
            "it is not waiting in the outbox (taken already, or never sent)",
            stream_, Describe(t.key), t.id.sender, t.id.seq, t.id.n));
        return 0;
      }
      if (rc != 0) return rc;
      StoredMessage m;
      if (!DecodeOutbox(AsView(k), AsView(v), &m)) {
        *op_status = Status::Corruption(fmt::format(
            "{} is damaged ({} bytes, checksum or lengths do not match)",
            Describe(t.key), v.mv_size));
        return 0;
      }
      if (dead_letter_ && m.id == t.id) continue;  // Drop: no inbox
      if (m.receiver != stream_ || !(m.id == t.id)) {
        *op_status = Status::NotFound(fmt::format(
            "stream '{}' cannot take the message {}: it is there for '{}' "
            "from '{}' seq {} #{}, not from '{}' seq {} #{}",
            stream_, Describe(t.key), m.receiver, m.id.sender, m.id.seq, m.id.n,
            t.id.sender, t.id.seq, t.id.n));
        return 0;
      }
      auto it = last.find(t.id.sender);
      if (it == last.end()) {
        DeliveryId stored;
        const std::string inbox_key = InboxKey(stream_, t.id.sender);
        MDB_val ik{inbox_key.size(), const_cast<char*>(inbox_key.data())};
        MDB_val iv;
        rc = mdb_get(txn, inbox_, &ik, &iv);
        if (rc != 0 && rc != MDB_NOTFOUND) return rc;
        if (rc == 0 && !DecodeInbox(iv, &stored)) {
          *op_status = Status::Corruption(fmt::format(
              "the inbox record of '{}' for sender '{}' is damaged ({} "
              "bytes)",
              stream_, t.id.sender, iv.mv_size));
          return 0;
        }
        it = last.emplace(t.id.sender, stored).first;
      }
      if (!Before(it->second, t.id)) {
        *op_status = Status::Conflict(
            fmt::format("stream '{}' cannot take the message from '{}' seq "
                        "{} #{}: it has taken seq {} #{} from that sender "
                        "already, and one sender's messages are taken in "
                        "order",
                        stream_, t.id.sender, t.id.seq, t.id.n, it->second.seq,
                        it->second.n),
            it->second.seq);
        return 0;
      }
      it->second = t.id;
      if (t.refused && !m.reply_type.empty()) {
        refused_.push_back({t.reason, std::move(m)});
      }
    }
    return 0;
  }

  // Every timer to fire must be pending for this stream with its id.
  int CheckFires(MDB_txn* txn, Status* op_status) {
    for (const FiredTimer& f : fire_) {
      const std::string key = TimerKey(stream_, f.key);
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v;
      int rc = mdb_get(txn, timers_, &k, &v);
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
      StoredTimer t;
      if (rc == 0 && !DecodeTimer(key, AsView(v), &t)) {
        *op_status = Status::Corruption(fmt::format(
            "{} is damaged ({} bytes, checksum or lengths do not match)",
            DescribeTimer(stream_, f.key), v.mv_size));
        return 0;
      }
      if (rc == MDB_NOTFOUND || !(t.id == f.id)) {
        *op_status = Status::NotFound(fmt::format(
            "{} (seq {} #{}) is not pending: fired, cancelled or replaced "
            "already",
            DescribeTimer(stream_, f.key), f.id.seq, f.id.n));
        return 0;
      }
    }
    return 0;
  }

  // Starts the timer that takes a refused message back to its sender: due
  // now, under the sender's stream, with the message's id.
  int SendBack(MDB_txn* txn, std::string_view reason, const StoredMessage& m,
               int64_t now) {
    Refusal r;
    r.receiver_type = m.receiver_type;
    r.receiver = m.receiver;
    r.reason = CutReason(reason);
    r.id = m.id;
    r.command_type = m.type;
    r.command_version = m.schema_version;
    r.command_payload = m.payload;
    StoredTimer t;
    t.stream = m.id.sender;
    t.key = RefusalTimerKey(m.id);
    t.id = m.id;
    t.due_ns = now;
    t.set_ns = now;
    t.receiver_type = m.reply_type;
    t.type = std::string(kRefusalType);
    t.payload = EncodeRefusal(r);
    const std::string key = TimerKey(t.stream, t.key);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    const std::string record = EncodeTimer(t);
    MDB_val v{record.size(), const_cast<char*>(record.data())};
    // The message was just taken, so it cannot have been sent back before.
    int rc = mdb_put(txn, timers_, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0) return rc == MDB_KEYEXIST ? EINVAL : rc;
    result_.refusals.push_back(std::move(t));
    return 0;
  }

  // Starts and cancels timers, in order, after the events were appended.
  int ApplyTimerChanges(MDB_txn* txn, int64_t now) {
    std::map<size_t, uint32_t> next_n;  // per event of the append
    for (const TimerChange& c : timer_changes_) {
      const std::string key = TimerKey(stream_, c.key);
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      if (c.cancel) {
        int rc = mdb_del(txn, timers_, &k, nullptr);
        if (rc == MDB_NOTFOUND) continue;
        if (rc != 0) return rc;
        // The result says what is pending at the end: a timer started and
        // cancelled in this commit is listed as cancelled only.
        std::erase_if(result_.timers_started,
                      [&](const StoredTimer& t) { return t.key == c.key; });
        result_.timers_cancelled.push_back(c.key);
        continue;
      }
      const size_t i = std::min(c.with_event, events_ - 1);
      StoredTimer t;
      t.stream = stream_;
      t.key = c.key;
      t.id = {stream_, result_.append.first_seq + i, next_n[i]++};
      t.due_ns = c.at_ns != 0 ? c.at_ns
                 : c.after_ns > std::numeric_limits<int64_t>::max() - now
                     ? std::numeric_limits<int64_t>::max()
                     : now + c.after_ns;
      t.receiver_type = c.receiver_type;
      t.type = c.command.type;
      t.schema_version = c.command.schema_version;
      t.payload = c.command.payload;
      t.metadata = c.command.metadata;
      t.set_ns = now;
      const std::string record = EncodeTimer(t);
      MDB_val v{record.size(), const_cast<char*>(record.data())};
      int rc = mdb_put(txn, timers_, &k, &v, 0);
      if (rc != 0) return rc;
      std::erase_if(result_.timers_started,
                    [&](const StoredTimer& s) { return s.key == c.key; });
      result_.timers_started.push_back(std::move(t));
    }
    return 0;
  }

  MessagesImpl* owner_;
  MDB_dbi outbox_;
  MDB_dbi inbox_;
  MDB_dbi timers_;
  std::string stream_;
  Expected expected_;
  size_t events_;
  std::vector<OutgoingMessage> send_;
  std::vector<TakenMessage> take_;
  std::vector<FiredTimer> fire_;
  std::vector<TimerChange> timer_changes_;
  // The takes that send a refusal back (their reason and message), as
  // CheckTakes found them.
  std::vector<std::pair<std::string, StoredMessage>> refused_;
  std::unique_ptr<PreparedAppend> append_;
  MessageStore::CommitCallback done_;
  // A Drop: the take moves the message to the dead letters, so it need
  // not be for this stream and no inbox records it.
  const bool dead_letter_;
  size_t bytes_ = 0;
  MessageCommitResult result_;
};

Result<std::unique_ptr<MessagesImpl>> MessagesImpl::Open(
    Env* env, Writer* writer, std::shared_ptr<Clock> clock,
    JournalLink journal) {
  std::unique_ptr<MessagesImpl> out(
      new MessagesImpl(env, writer, std::move(clock), std::move(journal)));
  if (!env->read_only()) {
    Result<MDB_dbi> outbox = env->OpenDatabase(kOutbox);
    if (!outbox.ok()) return outbox.status();
    Result<MDB_dbi> inbox = env->OpenDatabase(kInbox);
    if (!inbox.ok()) return inbox.status();
    Result<MDB_dbi> timers = env->OpenDatabase(kTimers);
    if (!timers.ok()) return timers.status();
    out->dbis_ = {*outbox, *inbox, *timers};
  }
  return out;
}

Result<MessagesImpl::Dbis> MessagesImpl::Handles() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!env_->read_only() || (dbis_.outbox && dbis_.inbox && dbis_.timers)) {
    return dbis_;
  }
  // A read-only store written before messages existed has neither table
  // until its owner opens it again.
  for (auto [name, dbi] :
       {std::pair{kOutbox, &dbis_.outbox}, std::pair{kInbox, &dbis_.inbox},
        std::pair{kTimers, &dbis_.timers}}) {
    if (*dbi) continue;
    Result<std::optional<MDB_dbi>> found = env_->OpenDatabaseIfPresent(name);
    if (!found.ok()) return found.status();
    *dbi = *found;
  }
  return dbis_;
}

void MessagesImpl::Commit(MessageCommit commit,
                          MessageStore::CommitCallback done) {
  auto refuse = [&](Status s) { done(std::move(s)); };
  if (writer_ == nullptr) {
    return refuse(Status::InvalidArgument(
        fmt::format("store {} is open read-only; messages cannot be sent or "
                    "taken",
                    env_->dir())));
  }
  if (Status s = ValidateCommit(commit); !s.ok()) return refuse(s);
  std::unique_ptr<PreparedAppend> append;
  if (!commit.append.events.empty()) {
    Result<std::unique_ptr<PreparedAppend>> prepared =
        journal_.prepare_append(commit.append);
    if (!prepared.ok()) return refuse(prepared.status());
    append = std::move(prepared).value();
  }
  const MDB_dbi outbox = *dbis_.outbox, inbox = *dbis_.inbox,
                timers = *dbis_.timers;
  writer_->Submit(
      std::make_unique<CommitOp>(this, outbox, inbox, timers, std::move(commit),
                                 std::move(append), std::move(done)));
}

Result<AppendResult> MessagesImpl::Drop(MessageKey key,
                                        std::string_view reason) {
  if (writer_ == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "store {} is open read-only; messages cannot be dropped", env_->dir()));
  }
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  // Read first, outside the writer; the op checks again that it waits
  // there with the same id before it moves it.
  StoredMessage m;
  {
    Result<ReadTxn> txn = env_->BeginRead();
    if (!txn.ok()) return txn.status();
    OutboxKeyBytes k(key);
    MDB_val kv = k.val();
    MDB_val v;
    const int rc = mdb_get(txn->get(), *dbis->outbox, &kv, &v);
    if (rc == MDB_NOTFOUND) {
      return Status::NotFound(
          fmt::format("no message waits at {}", Describe(key)));
    }
    if (rc != 0) return MdbStatus(rc, "reading the outbox");
    if (!DecodeOutbox(AsView(kv), AsView(v), &m)) {
      return Status::Corruption(fmt::format(
          "{} is damaged ({} bytes, checksum or lengths do not match)",
          Describe(key), v.mv_size));
    }
  }
  const MessageKey at = m.key;
  const DeliveryId id = m.id;
  DeadLetter letter{std::move(m), CutReason(reason)};
  MessageCommit c;
  c.append.stream = std::string(kDeadLetterStream);
  c.append.expected = Expected::Any();
  c.append.events.push_back(
      EventData{std::string(kDeadLetterType), EncodeDeadLetter(letter), 1, {}});
  c.take.push_back({at, id});
  if (c.append.events[0].payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(fmt::format(
        "{} cannot be dropped: as a dead letter it would hold {} bytes, over "
        "the journal's payload limit of {}",
        Describe(key), c.append.events[0].payload.size(), kMaxPayloadBytes));
  }
  Result<std::unique_ptr<PreparedAppend>> prepared =
      journal_.prepare_append(c.append);
  if (!prepared.ok()) return prepared.status();
  std::promise<Result<MessageCommitResult>> promise;
  auto future = promise.get_future();
  writer_->Submit(std::make_unique<CommitOp>(
      this, *dbis->outbox, *dbis->inbox, *dbis->timers, std::move(c),
      std::move(prepared).value(),
      [&promise](Result<MessageCommitResult> r) {
        promise.set_value(std::move(r));
      },
      /*dead_letter=*/true));
  Result<MessageCommitResult> r = future.get();
  if (!r.ok()) return r.status();
  return r->append;
}

Result<std::vector<std::string>> MessagesImpl::DropTimers(
    std::string_view stream) {
  if (writer_ == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "store {} is open read-only; timers cannot be dropped", env_->dir()));
  }
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  const MDB_dbi timers = *dbis->timers;
  const std::string prefix = TimerKey(stream, "");
  std::vector<std::string> keys;
  BlockingOp op(64, [&](MDB_txn* txn, Status*) {
    keys.clear();  // a retried group applies the op again
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, timers, &cur);
    if (rc != 0) return rc;
    MDB_val k{prefix.size(), const_cast<char*>(prefix.data())};
    MDB_val v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view key = AsView(k);
      if (key.substr(0, prefix.size()) != prefix) break;
      keys.emplace_back(key.substr(prefix.size()));
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
  Status s = op.SubmitAndWait(writer_);
  if (!s.ok()) return s;
  return keys;
}

Result<std::vector<StoredMessage>> MessagesImpl::Waiting(MessageKey after,
                                                         size_t max) {
  std::vector<StoredMessage> out;
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  if (!dbis->outbox || max == 0) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn->get(), *dbis->outbox, &cur);
  if (rc != 0) return MdbStatus(rc, "reading the outbox");
  OutboxKeyBytes start(after);
  MDB_val k = start.val();
  MDB_val v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  Status status;
  for (; rc == 0 && out.size() < max;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    StoredMessage m;
    if (!DecodeOutbox(AsView(k), AsView(v), &m)) {
      MessageKey at;
      if (k.mv_size == kOutboxKeyBytes) {
        at = {GetBig64(static_cast<const char*>(k.mv_data)),
              GetBig32(static_cast<const char*>(k.mv_data) + 8)};
      }
      status = Status::Corruption(fmt::format(
          "{} in {} is damaged ({} bytes, checksum or lengths do not match)",
          Describe(at), env_->dir(), v.mv_size));
      break;
    }
    if (m.key <= after) continue;  // `after` itself
    out.push_back(std::move(m));
  }
  mdb_cursor_close(cur);
  if (!status.ok()) return status;
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "reading the outbox");
  return out;
}

Result<std::vector<StoredTimer>> MessagesImpl::Timers(std::string_view stream,
                                                      std::string_view key,
                                                      size_t max,
                                                      size_t* damaged) {
  std::vector<StoredTimer> out;
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  if (!dbis->timers || max == 0) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn->get(), *dbis->timers, &cur);
  if (rc != 0) return MdbStatus(rc, "reading the timers");
  const std::string after =
      stream.empty() && key.empty() ? std::string() : TimerKey(stream, key);
  MDB_val k{after.size(), const_cast<char*>(after.data())};
  MDB_val v;
  rc = after.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                     : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  Status status;
  for (; rc == 0 && out.size() < max;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (AsView(k) == after) continue;
    StoredTimer t;
    if (!DecodeTimer(AsView(k), AsView(v), &t)) {
      if (damaged != nullptr) {
        ++*damaged;
        continue;
      }
      status = Status::Corruption(fmt::format(
          "a timer record of {} bytes in {} is damaged (after timer '{}' of "
          "'{}'; checksum or lengths do not match)",
          v.mv_size, env_->dir(), out.empty() ? key : out.back().key,
          out.empty() ? stream : out.back().stream));
      break;
    }
    out.push_back(std::move(t));
  }
  mdb_cursor_close(cur);
  if (!status.ok()) return status;
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "reading the timers");
  return out;
}

Result<std::optional<StoredTimer>> MessagesImpl::FindTimer(
    std::string_view stream, std::string_view key) {
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  if (!dbis->timers) return std::optional<StoredTimer>();
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  const std::string k = TimerKey(stream, key);
  MDB_val kv{k.size(), const_cast<char*>(k.data())};
  MDB_val v;
  int rc = mdb_get(txn->get(), *dbis->timers, &kv, &v);
  if (rc == MDB_NOTFOUND) return std::optional<StoredTimer>();
  if (rc != 0) return MdbStatus(rc, "reading the timers");
  StoredTimer t;
  if (!DecodeTimer(k, AsView(v), &t)) {
    return Status::Corruption(fmt::format(
        "{} in {} is damaged ({} bytes, checksum or lengths do not match)",
        DescribeTimer(stream, key), env_->dir(), v.mv_size));
  }
  return std::optional<StoredTimer>(std::move(t));
}

void MessagesImpl::Verify(
    MDB_txn* txn, VerifyContext* ctx,
    const std::function<uint64_t(std::string_view)>& stream_head) {
  Dbis dbis;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dbis = dbis_;
  }
  auto walk =
      [&](MDB_dbi dbi, const char* table,
          const std::function<void(const MDB_val&, const MDB_val&)>& check) {
        MDB_cursor* cursor = nullptr;
        int rc = mdb_cursor_open(txn, dbi, &cursor);
        MDB_val k, v;
        for (rc = rc != 0 ? rc : mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
             rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
          ctx->Tick();
          check(k, v);
        }
        if (cursor != nullptr) mdb_cursor_close(cursor);
        if (rc != MDB_NOTFOUND) {
          ctx->Problem(
              "", 0, 0,
              std::string(MdbStatus(rc, fmt::format("reading the {}", table))
                              .message()));
        }
      };
  if (dbis.outbox) {
    walk(*dbis.outbox, "outbox", [&](const MDB_val& k, const MDB_val& v) {
      ++ctx->report().outbox_messages;
      StoredMessage m;
      if (!DecodeOutbox(AsView(k), AsView(v), &m)) {
        ctx->Problem("", 0, 0,
                     fmt::format("outbox: an entry of {} bytes under a key of "
                                 "{} bytes is damaged (checksum or lengths); "
                                 "the message it held cannot be delivered",
                                 v.mv_size, k.mv_size));
        return;
      }
      if (!ValidateStreamName(m.id.sender).ok() ||
          !ValidateStreamName(m.receiver).ok() || m.receiver_type.empty() ||
          m.type.empty()) {
        ctx->Problem("", 0, m.key.position,
                     fmt::format("{} names no valid sender, receiver or type",
                                 Describe(m.key)));
        return;
      }
      if (stream_head(m.id.sender) < m.id.seq) {
        ctx->Problem(
            m.id.sender, m.id.seq, m.key.position,
            fmt::format("{} waits for '{}' but its sending event "
                        "'{}' seq {} was never written",
                        Describe(m.key), m.receiver, m.id.sender, m.id.seq));
      }
    });
  }
  if (dbis.timers) {
    walk(*dbis.timers, "timers", [&](const MDB_val& k, const MDB_val& v) {
      ++ctx->report().timers;
      StoredTimer t;
      if (!DecodeTimer(AsView(k), AsView(v), &t) ||
          !ValidateStreamName(t.stream).ok() ||
          !ValidateStreamName(t.key).ok() || t.receiver_type.empty() ||
          t.type.empty()) {
        ctx->Problem("", 0, 0,
                     fmt::format("timers: a record of {} bytes under a key of "
                                 "{} bytes is damaged (checksum, lengths or "
                                 "names); the timer it held cannot fire",
                                 v.mv_size, k.mv_size));
        return;
      }
      if (stream_head(t.stream) < t.id.seq) {
        ctx->Problem(
            t.stream, t.id.seq, 0,
            fmt::format("{} was started with '{}' seq {}, which was "
                        "never written",
                        DescribeTimer(t.stream, t.key), t.stream, t.id.seq));
      }
    });
  }
  if (dbis.inbox) {
    walk(*dbis.inbox, "inbox", [&](const MDB_val& k, const MDB_val& v) {
      ++ctx->report().inbox_records;
      const std::string_view key = AsView(k);
      const size_t nul = key.find('\0');
      DeliveryId id;
      if (nul == std::string_view::npos ||
          !ValidateStreamName(key.substr(0, nul)).ok() ||
          !ValidateStreamName(key.substr(nul + 1)).ok() ||
          !DecodeInbox(v, &id)) {
        ctx->Problem("", 0, 0,
                     fmt::format("inbox: a record of {} bytes under a key of "
                                 "{} bytes is damaged; its receiver may take "
                                 "a message of that sender again",
                                 v.mv_size, k.mv_size));
      }
    });
  }
}

Result<DeliveryId> MessagesImpl::LastTaken(std::string_view receiver,
                                           std::string_view sender) {
  if (Status s = ValidateStreamName(receiver); !s.ok()) return s;
  if (Status s = ValidateStreamName(sender); !s.ok()) return s;
  DeliveryId out{std::string(sender), 0, 0};
  Result<Dbis> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  if (!dbis->inbox) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  const std::string key = InboxKey(receiver, sender);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v;
  int rc = mdb_get(txn->get(), *dbis->inbox, &k, &v);
  if (rc == MDB_NOTFOUND) return out;
  if (rc != 0) return MdbStatus(rc, "reading the inbox");
  if (!DecodeInbox(v, &out)) {
    return Status::Corruption(fmt::format(
        "the inbox record of '{}' for sender '{}' in {} is damaged ({} "
        "bytes)",
        receiver, sender, env_->dir(), v.mv_size));
  }
  return out;
}

}  // namespace memoir::internal

namespace memoir {

using internal::GetLittle32;
using internal::GetLittle64;
using internal::PutLittle32;
using internal::PutLittle64;

std::string EncodeRefusal(const Refusal& r) {
  const std::string_view fields[6] = {r.receiver_type, r.receiver,
                                      r.reason,        r.id.sender,
                                      r.command_type,  r.command_payload};
  std::string out(40, '\0');
  PutLittle64(out.data(), r.id.seq);
  PutLittle32(out.data() + 8, r.id.n);
  PutLittle32(out.data() + 12, r.command_version);
  for (int i = 0; i < 6; ++i) {
    PutLittle32(out.data() + 16 + 4 * i,
                static_cast<uint32_t>(fields[i].size()));
  }
  for (std::string_view f : fields) out += f;
  return out;
}

Result<Refusal> DecodeRefusal(std::string_view payload) {
  auto bad = [&] {
    return Status::Corruption(fmt::format(
        "a {} payload of {} bytes is damaged (lengths do not match)",
        kRefusalType, payload.size()));
  };
  if (payload.size() < 40) return bad();
  const char* p = payload.data();
  Refusal r;
  r.id.seq = GetLittle64(p);
  r.id.n = GetLittle32(p + 8);
  r.command_version = GetLittle32(p + 12);
  std::string* fields[6] = {&r.receiver_type, &r.receiver,
                            &r.reason,        &r.id.sender,
                            &r.command_type,  &r.command_payload};
  size_t at = 40;
  for (int i = 0; i < 6; ++i) {
    const size_t len = GetLittle32(p + 16 + 4 * i);
    if (len > payload.size() - at) return bad();
    fields[i]->assign(p + at, len);
    at += len;
  }
  if (at != payload.size()) return bad();
  return r;
}

std::string EncodeDeadLetter(const DeadLetter& letter) {
  // The key, the reason's length and the reason, then the outbox record.
  std::string out(16, '\0');
  internal::OutboxKeyBytes key(letter.message.key);
  std::memcpy(out.data(), key.bytes, 12);
  PutLittle32(out.data() + 12, static_cast<uint32_t>(letter.reason.size()));
  out += letter.reason;
  out += internal::EncodeOutbox(letter.message);
  return out;
}

Result<DeadLetter> DecodeDeadLetter(std::string_view payload) {
  auto bad = [&] {
    return Status::Corruption(fmt::format("a {} payload of {} bytes is damaged",
                                          kDeadLetterType, payload.size()));
  };
  if (payload.size() < 16) return bad();
  const size_t reason = GetLittle32(payload.data() + 12);
  if (reason > payload.size() - 16) return bad();
  DeadLetter out;
  out.reason.assign(payload.substr(16, reason));
  if (!internal::DecodeOutbox(payload.substr(0, 12),
                              payload.substr(16 + reason), &out.message)) {
    return bad();
  }
  return out;
}

std::string RefusalTimerKey(const DeliveryId& id) {
  return fmt::format("$refused-{}-{}", id.seq, id.n);
}

Result<MessageCommitResult> MessageStore::Commit(MessageCommit commit) {
  std::promise<Result<MessageCommitResult>> promise;
  std::future<Result<MessageCommitResult>> future = promise.get_future();
  Commit(std::move(commit), [&promise](Result<MessageCommitResult> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

Result<std::unique_ptr<MessageStore>> InStoreMessages(Store& store) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  return std::unique_ptr<MessageStore>(
      std::make_unique<internal::InStoreMessageStore>(parts->messages));
}

}  // namespace memoir
