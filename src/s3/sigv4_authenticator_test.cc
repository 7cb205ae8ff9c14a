#include "s3/testing/s3_test_util.h"
