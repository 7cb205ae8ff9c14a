// Receipt handles: the text a receive gives each message, which a client
// hands back to delete the message or change its visibility. Internal to the
// queue module (see docs/design/queue.md, "Receipt handles").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::queue {

// One receive of one message: its queue, its row, the receive count after
// that receive and the receive's time. The row's receive_count and
// last_receive_ms must both still be these for the handle to act: a later
// receive changes the count, and a move task that resets the count (a
// message sent back from its DLQ) leaves an older receive time behind.
struct Receipt {
  int64_t queue_id = 0;
  int64_t seq = 0;
  int64_t receive_count = 0;
  int64_t receive_ms = 0;
  // An "ib1" handle, given before handles were keyed: it carries no MAC and
  // no time, so it may only act on a message whose latest receive was
  // before keying began (ReceiptCodec::legacy_before_ms).
  bool legacy = false;
};

// Writes and checks handles: "ib2:<queue>:<seq>:<count>:<receive ms>:<mac>",
// base64, where mac is the 16 hex digits of SipHash-2-4 over the text before
// it, under a key of the database's own (queue_receipt_key). So a handle
// cannot be made from a message id, only received, and a retried FIFO
// receive attempt (same rows, same receive) gets the same texts again.
// Immutable: shared by the threads that finish receives.
class ReceiptCodec {
 public:
  // key: 16 bytes. legacy_before_ms: unkeyed handles may act only on
  // receives recorded before this time (when the database got its key);
  // 0 when none can any more.
  ReceiptCodec(std::string key, int64_t legacy_before_ms);

  std::string Encode(const Receipt& receipt) const;
  // nullopt for anything that is not a handle this key wrote, or a
  // well-formed legacy handle of a received message.
  std::optional<Receipt> Decode(std::string_view handle) const;

  int64_t legacy_before_ms() const { return legacy_before_ms_; }

 private:
  std::string Mac(std::string_view text) const;

  std::string key_;
  int64_t legacy_before_ms_;
};

}  // namespace imgbatch::queue
