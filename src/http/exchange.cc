#include "http/exchange.h"

#include <algorithm>

#include "common/strings.h"

namespace imgbatch::http {

void Headers::Add(std::string name, std::string value) {
  fields_.push_back({std::move(name), std::move(value)});
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return IEquals(f.name, name); });
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const Field& f : fields_) {
    if (IEquals(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

Result<std::string> ReadWholeBody(Exchange& exchange, size_t max_bytes) {
  std::string body;
  if (auto len = exchange.head().content_length) {
    if (*len > max_bytes) return Status(Code::kTooLarge, "request body too large");
    body.reserve(*len);
  }
  char buf[16384];
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, exchange.ReadBody(buf));
    if (n == 0) return body;
    if (body.size() + n > max_bytes) return Status(Code::kTooLarge, "request body too large");
    body.append(buf, n);
  }
}

}  // namespace imgbatch::http
