// Output specs: the seed's defaults, the compact --outputs syntax and the
// output key naming.
#include <array>
#include <string>

#include "common/strings.h"
#include "imaging/imaging.h"

namespace imgbatch::imaging {
namespace {

constexpr int kMaxBoxSide = 65'500;  // libvips' and JPEG's own bound

struct FormatInfo {
  ImageFormat format;
  const char* name;
  const char* content_type;
  const char* extension;
  std::array<const char*, 3> aliases;  // extensions meaning this format
};

constexpr std::array<FormatInfo, 4> kFormats{{
    {ImageFormat::kJpeg, "jpeg", "image/jpeg", ".jpg", {".jpg", ".jpeg", ".jpe"}},
    {ImageFormat::kWebp, "webp", "image/webp", ".webp", {".webp", nullptr, nullptr}},
    {ImageFormat::kAvif, "avif", "image/avif", ".avif", {".avif", nullptr, nullptr}},
    {ImageFormat::kPng, "png", "image/png", ".png", {".png", nullptr, nullptr}},
}};

const FormatInfo& InfoOf(ImageFormat format) {
  for (const auto& info : kFormats) {
    if (info.format == format) return info;
  }
  return kFormats[0];
}

Status ApplyOption(std::string_view option, OutputSpec& spec) {
  std::string word = ToLower(option);
  for (const auto& info : kFormats) {
    if (word == info.name || (info.format == ImageFormat::kJpeg && word == "jpg")) {
      spec.format = info.format;
      return Status::Ok();
    }
  }
  if (word == "inside") {
    spec.fit = Fit::kInside;
  } else if (word == "cover") {
    spec.fit = Fit::kCover;
  } else if (word == "420") {
    spec.chroma = ChromaSubsampling::k420;
  } else if (word == "444") {
    spec.chroma = ChromaSubsampling::k444;
  } else if (word == "strip") {
    spec.strip_metadata = true;
  } else if (word == "keep") {
    spec.strip_metadata = false;
  } else if (word.size() > 1 && word[0] == 'q') {
    auto q = ParseUint(std::string_view(word).substr(1));
    if (!q || *q < 1 || *q > 100) return InvalidArgument("quality must be q1..q100: " + word);
    spec.quality = static_cast<int>(*q);
  } else {
    return InvalidArgument("unknown output option '" + std::string(option) + "'");
  }
  return Status::Ok();
}

Status ParseBox(std::string_view box, OutputSpec& spec) {
  auto x = box.find_first_of("xX");
  if (x == std::string_view::npos) return InvalidArgument("box must be WxH: " + std::string(box));
  auto w = ParseUint(box.substr(0, x));
  auto h = ParseUint(box.substr(x + 1));
  if (!w || !h || *w < 1 || *h < 1 || *w > kMaxBoxSide || *h > kMaxBoxSide) {
    return InvalidArgument("box must be WxH with sides 1.." + std::to_string(kMaxBoxSide) + ": " +
                           std::string(box));
  }
  spec.width = static_cast<int>(*w);
  spec.height = static_cast<int>(*h);
  return Status::Ok();
}

Result<OutputSpec> ParseOne(std::string_view entry) {
  auto fields = Split(entry, ':');
  if (fields.size() < 2)
    return InvalidArgument("output must be PREFIX:WxH[:opt...]: " + std::string(entry));
  OutputSpec spec;
  spec.prefix = std::string(Trim(fields[0]));
  if (spec.prefix.empty() || spec.prefix.find("..") != std::string::npos) {
    return InvalidArgument("bad output prefix: '" + spec.prefix + "'");
  }
  IMGBATCH_RETURN_IF_ERROR(ParseBox(Trim(fields[1]), spec));
  for (size_t i = 2; i < fields.size(); ++i) {
    IMGBATCH_RETURN_IF_ERROR(ApplyOption(Trim(fields[i]), spec));
  }
  return spec;
}

}  // namespace

std::vector<OutputSpec> DefaultOutputs() {
  OutputSpec resized;  // the struct's defaults are the seed's resized output
  OutputSpec thumbs;
  thumbs.prefix = "thumbs";
  thumbs.width = 192;
  thumbs.height = 192;
  thumbs.quality = 75;
  return {resized, thumbs};
}

Result<std::vector<OutputSpec>> ParseOutputSpecs(std::string_view text) {
  std::vector<OutputSpec> outputs;
  for (std::string_view entry : Split(text, ';')) {
    entry = Trim(entry);
    if (entry.empty()) continue;
    IMGBATCH_ASSIGN_OR_RETURN(OutputSpec spec, ParseOne(entry));
    for (const auto& other : outputs) {
      if (other.prefix == spec.prefix)
        return InvalidArgument("duplicate output prefix " + spec.prefix);
    }
    outputs.push_back(std::move(spec));
  }
  if (outputs.empty()) return InvalidArgument("no outputs given");
  return outputs;
}

std::string FormatOutputSpecs(const std::vector<OutputSpec>& outputs) {
  std::string text;
  for (const auto& spec : outputs) {
    if (!text.empty()) text += ';';
    text += spec.prefix + ":" + std::to_string(spec.width) + "x" + std::to_string(spec.height) +
            ":" + FormatName(spec.format) + ":q" + std::to_string(spec.quality) + ":" +
            (spec.fit == Fit::kInside ? "inside" : "cover") + ":" +
            (spec.chroma == ChromaSubsampling::k420 ? "420" : "444") + ":" +
            (spec.strip_metadata ? "strip" : "keep");
  }
  return text;
}

const char* FormatName(ImageFormat format) { return InfoOf(format).name; }
const char* ContentType(ImageFormat format) { return InfoOf(format).content_type; }
const char* FileExtension(ImageFormat format) { return InfoOf(format).extension; }

std::string OutputName(std::string_view input_name, ImageFormat format) {
  const FormatInfo& info = InfoOf(format);
  auto slash = input_name.find_last_of('/');
  auto dot = input_name.find_last_of('.');
  bool has_extension =
      dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash);
  if (has_extension) {
    std::string extension = ToLower(input_name.substr(dot));
    for (const char* alias : info.aliases) {
      if (alias != nullptr && extension == alias) return std::string(input_name);
    }
    return std::string(input_name.substr(0, dot)) + info.extension;
  }
  return std::string(input_name) + info.extension;
}

}  // namespace imgbatch::imaging
