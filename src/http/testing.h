// In-process exchanges for adapter tests: build a request, call a Handler,
// look at the Response — no sockets, no Beast. Thread-safe: Respond() may come
// from another thread; Wait() blocks for it.
#pragma once

#include <condition_variable>
#include <mutex>

#include "http/exchange.h"

namespace imgbatch::http {

class FakeExchange final : public Exchange {
 public:
  // target: "/bucket/key?query"; body is served in read_chunk-sized pieces.
  FakeExchange(std::string method, std::string target, Headers headers = {}, std::string body = {},
               size_t read_chunk = 7);

  const RequestHead& head() const override { return head_; }
  RequestHead& mutable_head() { return head_; }
  Result<size_t> ReadBody(std::span<char> buffer) override;
  void Respond(Response response) override;
  bool ClientGone() const override { return client_gone_; }
  void set_client_gone(bool gone) { client_gone_ = gone; }

  // Blocks until Respond() was called (or the timeout passed; then false).
  bool Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  bool responded() const;
  Response& response() { return response_; }
  // The body as bytes, whatever variant it was sent as (drains a BodySource,
  // reads a FileRange).
  std::string BodyText();
  int responses() const { return responses_; }

 private:
  RequestHead head_;
  std::string body_;
  size_t offset_ = 0;
  size_t read_chunk_;
  bool client_gone_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int responses_ = 0;
  Response response_;
};

// Runs handler on the exchange and waits for the response.
std::shared_ptr<FakeExchange> Call(const Handler& handler, std::string method, std::string target,
                                   Headers headers = {}, std::string body = {});

}  // namespace imgbatch::http
