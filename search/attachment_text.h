// Text of attachments (PDF, office documents) through external converters.
//
// Each converter is a Debian command-line tool that writes the text to stdout:
// pdftotext (poppler-utils) for PDF; docx2txt for .docx; xlsx2csv for .xlsx;
// catdoc for .doc and RTF, xls2csv for .xls and catppt for .ppt (all three from
// catdoc); odt2txt for OpenDocument text, spreadsheets and presentations;
// unzip for .pptx (its slides' XML, whose text runs are read here). It runs
// as a child process without a shell, in a process group of its own: the
// attachment is written to a private temporary file (mode 0600, removed
// afterwards), the tool's stdout is read through a pipe up to a size cap, and the
// group (the tool and any helper it started, e.g. docx2txt's unzip) is killed
// (SIGKILL) when the time limit passes or the cap is reached. The child also gets
// CPU-time, address-space and file-size (0: it cannot write files) rlimits. The
// start of its stderr is kept for the failure detail. A converter that is not
// installed is not an error: the outcome says kMissing.
//
// Thread-safe: every call uses its own temporary file, pipe and child.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailvault {

struct ConverterLimits {
  std::chrono::milliseconds timeout{10000};   // wall time per run; default 10 s
  size_t max_output_bytes = 1 << 20;          // stdout kept; default 1 MiB
  size_t max_memory_bytes = size_t{1} << 30;  // RLIMIT_AS of the child; default 1 GiB
  std::string temp_dir;                       // where the input file goes; "" = $TMPDIR or /tmp
};

enum class ConverterOutcome {
  kOk,           // ran and exited 0; text holds its output (maybe truncated, see flag)
  kNoConverter,  // no converter handles this type
  kMissing,      // a converter handles it but is not installed
  kTimeout,      // killed at the time limit; text holds what it wrote until then
  kFailed,       // could not start, exited non-zero or on a signal, or (for tools
                 // that exit 0 on unreadable input) wrote nothing but an error
};

struct ConverterResult {
  ConverterOutcome outcome = ConverterOutcome::kNoConverter;
  std::string converter;   // program name, e.g. "pdftotext"
  std::string text;        // UTF-8 as written by the tool (repair is up to the caller)
  bool truncated = false;  // output reached max_output_bytes; the child was killed
  std::string detail;      // for problem lists: "pdftotext exited with status 1: ..."
  std::string error_output;  // the start of the tool's stderr (printable ASCII, capped)
};

// The converter for an attachment, chosen by MIME type first, then file-name
// extension; "" when none. E.g. ("application/pdf", "x.bin") -> "pdftotext".
std::string ConverterFor(std::string_view mime_type, std::string_view filename);

// Runs the converter for the attachment on `data`. Never throws. The MIME type's
// converter is used unless `data` is of a kind it does not read (by its first
// bytes: zip, OLE compound file, RTF, PDF) and the file name's converter reads
// it: a .docx sent as application/msword goes to docx2txt.
ConverterResult ExtractAttachmentText(std::string_view mime_type, std::string_view filename,
                                      std::string_view data, const ConverterLimits& limits);

// Lower-level: runs `argv` (argv[0] an absolute path; the string "{in}" replaced by
// the input file's path) under `limits`. Exposed for tests. In error_output and
// detail the input file's path reads "<input>".
ConverterResult RunConverter(const std::vector<std::string>& argv, std::string_view data,
                             const ConverterLimits& limits);

}  // namespace mailvault
