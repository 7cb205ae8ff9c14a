// Building classified imaging errors: a Status whose code is the nearest
// common code and whose detail is ErrorName(error). Internal to imaging.
#pragma once

#include <string>

#include "common/status.h"
#include "imaging/imaging.h"

namespace imgbatch::imaging {

Status ImageFailure(ImageError error, std::string message);

}  // namespace imgbatch::imaging
