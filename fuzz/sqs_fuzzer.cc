// Fuzzes the SQS request parsers: the query protocol's form decoding and
// flattened-parameter folding, the JSON 1.0 body, and the query XML renderer
// fed with whatever the parse produced; plus the message body and attribute
// decoders of the queue engine. Input: first byte picks the protocol (even:
// query form, odd: JSON), the first line is the action / X-Amz-Target
// operation, the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/message.h"
#include "sqs/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool json = data[0] & 1;
  const size_t newline = input.find('\n');
  const std::string_view first = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  imgbatch::http::RequestHead head;
  head.method = "POST";
  head.path = "/000000000000/q";
  if (json) {
    head.headers.Add("X-Amz-Target", "AmazonSQS." + std::string(first));
    head.headers.Add("Content-Type", "application/x-amz-json-1.0");
  } else {
    head.query = std::string(first);
    head.headers.Add("Content-Type", "application/x-www-form-urlencoded");
  }
  auto request = imgbatch::sqs::ParseRequest(head, body);
  if (request.ok()) {
    // Rendering must cope with any JSON value a client can send back at us.
    std::string xml = imgbatch::sqs::ResultToXml(request->action, request->params, "r");
    (void)xml;
    auto reply =
        imgbatch::sqs::RenderResult(request->protocol, request->action, request->params, "r");
    (void)reply;
  } else {
    auto reply = imgbatch::sqs::RenderError(imgbatch::sqs::Protocol::kQuery, request.status(), "r");
    (void)reply;
  }
  (void)imgbatch::queue::ValidateBody(body);
  auto attributes = imgbatch::queue::DecodeAttributes(body);
  if (attributes.ok()) (void)imgbatch::queue::Md5OfAttributes(*attributes);
  return 0;
}
