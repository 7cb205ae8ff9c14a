// The walk S3's ListObjects and ListMultipartUploads share: rows in key order,
// a batch at a time, with the keys that have the delimiter after the prefix
// rolled up into common prefixes, each counting as one entry of the page.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "common/status.h"
#include "db/database.h"

namespace imgbatch::store {

// Source keeps the listing's cursor and its result:
//   Result<db::Statement> Query(int batch): the rows after the cursor whose
//       key is >= the prefix, in key order, at most `batch` of them;
//   std::string Key(const db::Statement&): a row's key;
//   Status Take(db::Statement&, std::string key): lists the row, moves the
//       cursor past it;
//   void SeekPast(std::string cursor_key): moves the cursor to that key;
//   void AddCommonPrefix(std::string common): lists a common prefix.
// `marker`: a common prefix at or before it was listed on an earlier page.
// Sets truncated when entries remain past `limit`.
template <typename Source>
Status WalkDelimited(std::string_view prefix, std::string_view delimiter, std::string_view marker,
                     int limit, Source& source, bool& truncated) {
  int count = 0;
  while (true) {
    const int batch = std::max(limit - count + 1, 8);
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement q, source.Query(batch));
    int rows = 0;
    bool seeked = false;
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ++rows;
      std::string key = source.Key(q);
      if (!key.starts_with(prefix)) return Status::Ok();  // past the prefix range
      if (count == limit) {                               // one more entry exists
        truncated = true;
        return Status::Ok();
      }
      size_t pos = delimiter.empty() ? std::string::npos : key.find(delimiter, prefix.size());
      if (pos != std::string::npos) {
        std::string common = key.substr(0, pos + delimiter.size());
        // Seek past every key under this common prefix instead of reading
        // them: keys are UTF-8, which never contains the byte 0xFF.
        source.SeekPast(common + '\xff');
        seeked = true;
        if (common > marker) {
          source.AddCommonPrefix(std::move(common));
          ++count;
        }
        break;
      }
      IMGBATCH_RETURN_IF_ERROR(source.Take(q, std::move(key)));
      ++count;
    }
    if (!seeked && rows < batch) return Status::Ok();
  }
}

}  // namespace imgbatch::store
