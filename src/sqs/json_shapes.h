// The JSON protocol's request members checked against the types of SQS's
// service model before any operation reads them, as AWS's deserializer does:
// a value of the wrong JSON type is a 400 SerializationException carrying the
// deserializer's own message ("STRING_VALUE can not be converted to an
// Integer"), never coerced into what the member wants. The query protocol
// has no types (every value is text) and is not checked here.
// Members the model does not have, and null members, are ignored, as AWS
// ignores them. Numbers are not range-checked here: an Integer member given
// 1.5 or 2^40 is the operation's InvalidParameterValue, as before.
#pragma once

#include "common/status.h"
#include "sqs/protocol.h"

namespace imgbatch::sqs {

// Ok, or kInvalidArgument with detail "SerializationException".
Status CheckJsonMemberTypes(const Json& params);

}  // namespace imgbatch::sqs
