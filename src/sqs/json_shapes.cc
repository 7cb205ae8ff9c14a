#include "sqs/json_shapes.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace imgbatch::sqs {
namespace {

enum class Shape {
  kString,           // also Blob members (base64 text in JSON)
  kInteger,          // any JSON number; its range is the operation's to check
  kStringList,       // list<String>
  kStringMap,        // map<String, String>
  kStructList,       // list<structure> (batch entries)
  kAttributeValues,  // map<String, MessageAttributeValue structure>
};

struct Member {
  std::string_view name;
  Shape shape;
};

// Every request member of SQS's model (API 2012-11-05), sorted by name,
// whatever structure holds it: a name has one type everywhere in this API (top-level members,
// batch entries, message attribute values alike), so one table serves all.
constexpr std::array<Member, 38> kMembers = {{
    {"AWSAccountIds", Shape::kStringList},
    {"Actions", Shape::kStringList},
    {"AttributeNames", Shape::kStringList},
    {"Attributes", Shape::kStringMap},
    {"BinaryListValues", Shape::kStringList},
    {"BinaryValue", Shape::kString},
    {"DataType", Shape::kString},
    {"DelaySeconds", Shape::kInteger},
    {"DestinationArn", Shape::kString},
    {"Entries", Shape::kStructList},
    {"Id", Shape::kString},
    {"Label", Shape::kString},
    {"MaxNumberOfMessages", Shape::kInteger},
    {"MaxNumberOfMessagesPerSecond", Shape::kInteger},
    {"MaxResults", Shape::kInteger},
    {"MessageAttributeNames", Shape::kStringList},
    {"MessageAttributes", Shape::kAttributeValues},
    {"MessageBody", Shape::kString},
    {"MessageDeduplicationId", Shape::kString},
    {"MessageGroupId", Shape::kString},
    {"MessageSystemAttributeNames", Shape::kStringList},
    {"MessageSystemAttributes", Shape::kAttributeValues},
    {"NextToken", Shape::kString},
    {"QueueName", Shape::kString},
    {"QueueNamePrefix", Shape::kString},
    {"QueueOwnerAWSAccountId", Shape::kString},
    {"QueueUrl", Shape::kString},
    {"ReceiptHandle", Shape::kString},
    {"ReceiveRequestAttemptId", Shape::kString},
    {"SourceArn", Shape::kString},
    {"StringListValues", Shape::kStringList},
    {"StringValue", Shape::kString},
    {"TagKeys", Shape::kStringList},
    {"Tags", Shape::kStringMap},
    {"TaskHandle", Shape::kString},
    {"VisibilityTimeout", Shape::kInteger},
    {"WaitTimeSeconds", Shape::kInteger},
    {"tags", Shape::kStringMap},  // CreateQueue's (TagQueue's is "Tags")
}};

constexpr bool ByName(const Member& a, const Member& b) { return a.name < b.name; }
static_assert(std::is_sorted(kMembers.begin(), kMembers.end(), ByName));

// A binary search: every member of every JSON request is looked up (a batch
// of ten sends has some fifty).
const Member* FindMember(std::string_view name) {
  auto it =
      std::lower_bound(kMembers.begin(), kMembers.end(), Member{name, Shape::kString}, ByName);
  return it != kMembers.end() && it->name == name ? &*it : nullptr;
}

Status Mismatch(std::string message) {
  return InvalidArgument(std::move(message)).WithDetail("SerializationException");
}

// The deserializer's name for the token it found where a scalar was wanted.
std::string_view TokenName(const Json& value) {
  if (value.is_string()) return "STRING_VALUE";
  if (value.is_boolean()) return value.get<bool>() ? "TRUE_VALUE" : "FALSE_VALUE";
  return "NUMBER_VALUE";
}

// A container where the model wants something else. The messages are those
// AWS's deserializer gives (measured against AWS JSON 1.x services).
Status UnexpectedContainer(const Json& value) {
  if (value.is_array()) return Mismatch("Start of list found where not expected");
  return Mismatch("Start of structure or map found where not expected.");
}

Status CheckString(const Json& value) {
  if (value.is_null() || value.is_string()) return Status::Ok();
  if (value.is_structured()) return UnexpectedContainer(value);
  return Mismatch(std::string(TokenName(value)) + " can not be converted to a String");
}

Status CheckInteger(const Json& value) {
  if (value.is_null() || value.is_number()) return Status::Ok();
  if (value.is_structured()) return UnexpectedContainer(value);
  return Mismatch(std::string(TokenName(value)) + " can not be converted to an Integer");
}

Status CheckStructure(const Json& value);

Status CheckList(const Json& value, Status (*check_item)(const Json&)) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_array()) return Mismatch("Expected list or null");
  for (const Json& item : value) IMGBATCH_RETURN_IF_ERROR(check_item(item));
  return Status::Ok();
}

Status CheckMap(const Json& value, Status (*check_value)(const Json&)) {
  if (value.is_null()) return Status::Ok();
  if (value.is_array()) return UnexpectedContainer(value);
  // (AWS's words for a scalar here were not found; "list" has these.)
  if (!value.is_object()) return Mismatch("Expected map or null");
  for (const Json& item : value) IMGBATCH_RETURN_IF_ERROR(check_value(item));  // the values
  return Status::Ok();
}

Status CheckMember(const Member& member, const Json& value) {
  switch (member.shape) {
    case Shape::kString:
      return CheckString(value);
    case Shape::kInteger:
      return CheckInteger(value);
    case Shape::kStringList:
      return CheckList(value, CheckString);
    case Shape::kStringMap:
      return CheckMap(value, CheckString);
    case Shape::kStructList:
      return CheckList(value, CheckStructure);
    case Shape::kAttributeValues:
      return CheckMap(value, CheckStructure);
  }
  return Status::Ok();
}

// A structure's members, by the one table.
Status CheckStructure(const Json& value) {
  if (value.is_null()) return Status::Ok();
  if (value.is_array()) return UnexpectedContainer(value);
  if (!value.is_object()) return Mismatch("Expected null");  // AWS's words for a scalar here
  for (const auto& [name, item] : value.items()) {
    if (const Member* member = FindMember(name)) {
      IMGBATCH_RETURN_IF_ERROR(CheckMember(*member, item));
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckJsonMemberTypes(const Json& params) { return CheckStructure(params); }

}  // namespace imgbatch::sqs
