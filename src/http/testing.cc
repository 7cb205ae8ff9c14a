#include "http/testing.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace imgbatch::http {

FakeExchange::FakeExchange(std::string method, std::string target, Headers headers,
                           std::string body, size_t read_chunk)
    : body_(std::move(body)), read_chunk_(std::max<size_t>(read_chunk, 1)) {
  head_.method = std::move(method);
  head_.target = std::move(target);
  size_t q = head_.target.find('?');
  head_.path = head_.target.substr(0, q);
  head_.query = q == std::string::npos ? "" : head_.target.substr(q + 1);
  head_.headers = std::move(headers);
  if (!body_.empty() || head_.method == "PUT" || head_.method == "POST") {
    head_.content_length = body_.size();
  }
  head_.remote_address = "127.0.0.1";
}

Result<size_t> FakeExchange::ReadBody(std::span<char> buffer) {
  size_t n = std::min({buffer.size(), body_.size() - offset_, read_chunk_});
  std::memcpy(buffer.data(), body_.data() + offset_, n);
  offset_ += n;
  return n;
}

void FakeExchange::Respond(Response response) {
  std::lock_guard lock(mu_);
  ++responses_;
  response_ = std::move(response);
  cv_.notify_all();
}

bool FakeExchange::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return responses_ > 0; });
}

bool FakeExchange::responded() const {
  std::lock_guard lock(mu_);
  return responses_ > 0;
}

std::string FakeExchange::BodyText() {
  std::string out;
  if (auto* s = std::get_if<std::string>(&response_.body)) return *s;
  if (auto* f = std::get_if<FileRange>(&response_.body)) {
    out.resize(f->length);
    ssize_t n = pread(*f->fd, out.data(), f->length, static_cast<off_t>(f->offset));
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  }
  auto& src = std::get<std::unique_ptr<BodySource>>(response_.body);
  char buf[4096];
  while (src) {
    auto n = src->Read(buf);
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

std::shared_ptr<FakeExchange> Call(const Handler& handler, std::string method, std::string target,
                                   Headers headers, std::string body) {
  auto ex = std::make_shared<FakeExchange>(std::move(method), std::move(target), std::move(headers),
                                           std::move(body));
  handler(ex);
  ex->Wait();
  return ex;
}

}  // namespace imgbatch::http
