// libFuzzer target for the MIME decoder and its pieces (search/).
//
// Any input must decode without crash, leak, hang or sanitizer report, and every
// text field must come out as valid UTF-8. Built by scripts/fuzz.sh (clang,
// -fsanitize=fuzzer,address,undefined); seeds: tests/data/mime.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "search/charset.h"
#include "search/html_text.h"
#include "search/mail_date.h"
#include "search/mime_decoder.h"
#include "search/rfc2047.h"

namespace {

void CheckUtf8(const std::string& s) {
  if (!mailvault::IsValidUtf8(s)) std::abort();
}

// Every text field, inner messages included, is valid UTF-8; and DecodeMessage's
// final check did not have to repair any (that would be a path letting invalid
// bytes through, hidden by the safety net).
void CheckMessage(const mailvault::DecodedMessage& m) {
  mailvault::ForEachTextField(m, [](const std::string& field, const std::string& text) {
    if (!mailvault::IsValidUtf8(text)) {
      std::fprintf(stderr, "invalid UTF-8 in %s\n", field.c_str());
      std::abort();
    }
  });
  if (m.HasProblem(mailvault::kRepairedUtf8Problem)) {
    for (const auto& p : m.problems) std::fprintf(stderr, "problem: %s\n", p.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mailvault::DecodeOptions options;
  options.extract_attachment_text = false;  // no child processes while fuzzing
  options.time_budget = std::chrono::milliseconds(5000);
  mailvault::Result<mailvault::DecodedMessage> m = mailvault::DecodeMessage(input, options);
  if (!m.ok()) std::abort();  // content must never be an error
  CheckMessage(*m);

  CheckUtf8(mailvault::DecodeHeaderText(input, "windows-1252", nullptr));
  CheckUtf8(mailvault::NormalizeEncodedWords(input, "windows-1252", nullptr));
  CheckUtf8(mailvault::ConvertToUtf8(input, "iso-2022-jp").utf8);
  std::string html = mailvault::HtmlToText(input, 1 << 16);
  if (html.size() > (1 << 16)) std::abort();
  // From valid UTF-8, HtmlToText makes valid UTF-8 (entities included).
  CheckUtf8(mailvault::HtmlToText(mailvault::ToValidUtf8(input), 1 << 16));
  mailvault::ParseMailDate(input.substr(0, 256));
  return 0;
}
