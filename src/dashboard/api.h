// The dashboard's own JSON endpoints under /-/api/ (the caller has already
// passed Access::CheckApi — one check for every /-/api/ route):
//   GET  /-/api/history?seconds=N      metric series for the charts
//   PUT  /-/api/upload/<key>           store the body as <input bucket>/<key>;
//                                      the store's event sink fires the bucket
//                                      notification exactly as an S3 PUT does
//   GET  /-/api/gallery?max=N          newest outputs under thumbs/, with their
//                                      other outputs, source, sizes and times
//   GET  /-/api/objects/<bucket>/<key> an object of the input or output bucket
//                                      (the gallery's <img> and links)
// Thin: each is one engine call plus JSON. The engines know nothing of this.
// Thread-safety: stateless; call from any handler thread.
#pragma once

#include <string>
#include <vector>

#include "http/exchange.h"
#include "metrics/history.h"
#include "store/object_store.h"

namespace imgbatch::dashboard {

// Output metadata the worker writes beside source-etag (see src/worker).
inline constexpr char kSourceKeyMetadata[] = "source-key";        // percent-encoded
inline constexpr char kSourceEtagMetadata[] = "source-etag";      // the input version it is of
inline constexpr char kProcessingMsMetadata[] = "processing-ms";  // get + decode + encode
inline constexpr int kDefaultHistorySeconds = 300;
inline constexpr int kMaxHistorySeconds = 3600;
inline constexpr int kDefaultGalleryItems = 24;
inline constexpr int kMaxGalleryItems = 100;
// How many outputs the gallery sorts by time (newest first) at most.
inline constexpr int kMaxGalleryScan = 10'000;

struct ApiContext {
  store::ObjectStore* store = nullptr;
  const metrics::MetricHistory* history = nullptr;
  std::string input_bucket;
  std::string output_bucket;
  // Output prefixes with their slash ("resized/", "thumbs/"); the gallery
  // shows the one named gallery_prefix and links the others.
  std::vector<std::string> output_prefixes;
  std::string gallery_prefix = "thumbs/";
};

// Answers the request when its path is one of the endpoints above and
// returns true; returns false (nothing sent) otherwise.
bool HandleApi(const ApiContext& ctx, http::Exchange& ex);

}  // namespace imgbatch::dashboard
