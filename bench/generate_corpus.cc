// generate_corpus: writes a deterministic synthetic mail corpus for the archive
// benchmark (bench/README.md), as a folder of .eml files with CRLF lines (so the
// files are already in the archive's canonical form and file bytes = raw bytes).
//
//   generate_corpus --out DIR [--messages N] [--seed S] [--profile realistic|10k]
//
// Profiles:
//   realistic  mails with log-normal text sizes (median ~1.8 KB of text, HTML
//              alternatives, quoted replies), a few with base64 attachments of
//              8 KB-5 MB; many mails delivered as per-recipient copies (same body,
//              different Received/Delivered-To/To headers), and attachments
//              forwarded inside later mails (same encoded part, different
//              boundary and text).
//   10k        distinct single-part text messages of 9.5-10.5 KB each, for the
//              "5,000 messages/s of 10 KB" import target.
//
// Files: DIR/NNN/NNNNNN.eml, 1,000 per subfolder, in generation order. The
// corpus's own figures go to DIR/../<basename>.figures (key=value lines) and to
// stdout: messages, bytes, duplicated body bytes (bodies of the 2nd and later
// per-recipient copies), duplicated attachment bytes (encoded attachment bodies
// that appeared before, in mails that are not such copies) and their share.
//
// Deterministic: the same arguments give byte-identical files on any platform
// (own PRNG and distributions, no std:: distributions).
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// xoshiro256** seeded by splitmix64: small, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi].
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {  // Box-Muller
    double u1 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * Uniform());
  }
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  double LogUniform(double lo, double hi) { return lo * std::exp(Uniform() * std::log(hi / lo)); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

constexpr const char* kCommonWords[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
    "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "meeting",
    "please", "thanks", "project", "report", "attached", "review", "schedule", "contract",
    "price", "market", "gas", "power", "deal", "team", "call", "week", "today", "tomorrow",
    "agreement", "draft", "comments", "budget", "forecast", "customer", "issue", "update",
    "question", "information", "services", "group", "company", "business", "regards", "let",
    "me", "know", "need", "should", "could", "also", "about", "our", "your", "new", "time",
    "year", "any", "some", "other", "into", "than", "then", "them", "these", "may", "only",
    "over", "such", "after", "first", "two", "out", "what", "up", "its", "like", "just",
    "well", "last", "next", "monday", "friday", "office", "plan", "risk", "trading", "volume",
};

// Words, people and subjects drawn with Zipf-like frequencies.
class Vocabulary {
 public:
  explicit Vocabulary(Rng& rng) {
    for (const char* w : kCommonWords) words_.emplace_back(w);
    static constexpr const char* kSyllables[] = {
        "ka", "re", "mi", "to", "len", "par", "sto", "ne", "vi", "dor", "an", "ex", "pro", "tal",
        "gen", "ri", "mo", "sa", "tion", "ing", "ment", "er", "al", "con", "de", "us", "ly", "ter"};
    constexpr size_t kSyl = sizeof(kSyllables) / sizeof(kSyllables[0]);
    while (words_.size() < 6000) {
      std::string w;
      const int n = 1 + static_cast<int>(rng.Range(1, 3));
      for (int i = 0; i < n; ++i) w += kSyllables[rng.Range(0, kSyl - 1)];
      words_.push_back(std::move(w));
    }
    double total = 0;
    for (size_t r = 0; r < words_.size(); ++r) {
      total += 1.0 / std::pow(static_cast<double>(r + 1), 1.05);
      cumulative_.push_back(total);
    }
    for (double& c : cumulative_) c /= total;
    for (int i = 0; i < 3000; ++i) {
      std::string first = Word(rng.Range(120, 2000));
      std::string last = Word(rng.Range(120, 5999));
      std::string domain = i % 3 == 0 ? "corp.example" : Word(rng.Range(120, 900)) + ".example";
      people_.push_back({Capital(first) + " " + Capital(last), first + "." + last + "@" + domain});
    }
  }

  const std::string& Word(size_t rank) const { return words_[rank]; }
  const std::string& Draw(Rng& rng) const {
    const double u = rng.Uniform();
    size_t lo = 0, hi = cumulative_.size() - 1;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (cumulative_[mid] < u) lo = mid + 1; else hi = mid;
    }
    return words_[lo];
  }
  struct Person {
    std::string name;
    std::string address;
  };
  const Person& DrawPerson(Rng& rng) const { return people_[rng.Range(0, people_.size() - 1)]; }

  // Paragraphs of Zipf words wrapped at 72 columns, about `bytes` long.
  std::string Text(Rng& rng, size_t bytes) const {
    std::string out;
    size_t line = 0;
    size_t sentence = 0;
    while (out.size() < bytes) {
      std::string w = Draw(rng);
      if (sentence == 0) w = Capital(w);
      if (line + w.size() + 1 > 72) {
        out += "\r\n";
        line = 0;
      } else if (line > 0) {
        out += ' ';
        ++line;
      }
      out += w;
      line += w.size();
      if (++sentence > 6 && rng.Chance(0.15)) {
        out += '.';
        ++line;
        sentence = 0;
        if (rng.Chance(0.2)) {
          out += "\r\n\r\n";
          line = 0;
        }
      }
    }
    out += ".\r\n";
    return out;
  }

  static std::string Capital(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
  }

 private:
  std::vector<std::string> words_;
  std::vector<double> cumulative_;
  std::vector<Person> people_;
};

std::string Hex(Rng& rng, int digits) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s;
  for (int i = 0; i < digits; ++i) s += kHex[rng.Next() & 15];
  return s;
}

std::string Base64Lines(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 38 + 8);
  size_t column = 0;
  for (size_t i = 0; i < data.size(); i += 3) {
    const uint32_t b0 = static_cast<unsigned char>(data[i]);
    const uint32_t b1 = i + 1 < data.size() ? static_cast<unsigned char>(data[i + 1]) : 0;
    const uint32_t b2 = i + 2 < data.size() ? static_cast<unsigned char>(data[i + 2]) : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[v & 63] : '=';
    column += 4;
    if (column == 76) {
      out += "\r\n";
      column = 0;
    }
  }
  if (column != 0) out += "\r\n";
  return out;
}

std::string RfcDate(int64_t t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t days = t / 86400;
  const int64_t secs = t % 86400;
  const char* weekday = kDays[days % 7];
  // Civil-from-days (Howard Hinnant).
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %d %s %lld %02d:%02d:%02d +0000", weekday, static_cast<int>(d),
                kMonths[m - 1], static_cast<long long>(y), static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

struct Attachment {
  std::string part_headers;  // Content-Type ... up to and including the empty line
  std::string encoded;       // base64 lines
};

struct Figures {
  uint64_t messages = 0;
  uint64_t mails = 0;  // distinct mails (a mail has one or more per-recipient copies)
  uint64_t bytes = 0;
  uint64_t dup_body_bytes = 0;
  uint64_t dup_attachment_bytes = 0;
  uint64_t attachments_new = 0;
  uint64_t attachments_forwarded = 0;
  uint64_t largest = 0;
};

class CorpusWriter {
 public:
  explicit CorpusWriter(std::string dir) : dir_(std::move(dir)) {}

  bool Write(const std::string& message) {
    if (count_ % 1000 == 0) {
      char sub[32];
      std::snprintf(sub, sizeof sub, "/%03llu", static_cast<unsigned long long>(count_ / 1000));
      folder_ = dir_ + sub;
      if (mkdir(folder_.c_str(), 0755) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "generate_corpus: mkdir %s: %s\n", folder_.c_str(), std::strerror(errno));
        return false;
      }
    }
    char name[32];
    std::snprintf(name, sizeof name, "/%06llu.eml", static_cast<unsigned long long>(count_));
    const std::string path = folder_ + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
      std::fprintf(stderr, "generate_corpus: %s: %s\n", path.c_str(), std::strerror(errno));
      return false;
    }
    const bool ok = std::fwrite(message.data(), 1, message.size(), f) == message.size();
    if (std::fclose(f) != 0 || !ok) {
      std::fprintf(stderr, "generate_corpus: write %s failed\n", path.c_str());
      return false;
    }
    ++count_;
    return true;
  }

 private:
  std::string dir_;
  std::string folder_;
  uint64_t count_ = 0;
};

struct Options {
  std::string out;
  uint64_t messages = 50000;
  uint64_t seed = 20240501;
  std::string profile = "realistic";
};

std::string Received(Rng& rng, const std::string& by, const std::string& rcpt, int64_t t) {
  const int a = static_cast<int>(rng.Range(1, 254)), b = static_cast<int>(rng.Range(1, 254));
  return "Received: from mx" + std::to_string(rng.Range(1, 9)) + ".relay.example (mx.relay.example [10.0." +
         std::to_string(a) + "." + std::to_string(b) + "])\r\n\tby " + by +
         " (Postfix) with ESMTPS id " + Hex(rng, 10) + "\r\n\tfor <" + rcpt + ">; " + RfcDate(t) + "\r\n";
}

// A 10 KB profile message: distinct text, one part.
std::string TenKbMessage(Rng& rng, const Vocabulary& vocab, uint64_t i) {
  const auto& from = vocab.DrawPerson(rng);
  const auto& to = vocab.DrawPerson(rng);
  const int64_t t = 1700000000 + static_cast<int64_t>(i) * 37;
  std::string h = "Return-Path: <" + from.address + ">\r\nDelivered-To: " + to.address + "\r\n" +
                  Received(rng, "mail.corp.example", to.address, t + 2) + "From: " + from.name + " <" +
                  from.address + ">\r\nTo: " + to.name + " <" + to.address + ">\r\nSubject: " +
                  Vocabulary::Capital(vocab.Draw(rng)) + " " + vocab.Draw(rng) + " " + vocab.Draw(rng) +
                  "\r\nDate: " + RfcDate(t) + "\r\nMessage-ID: <" + Hex(rng, 16) + "@corp.example>\r\n" +
                  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 7bit\r\n\r\n";
  const size_t target = rng.Range(9500, 10500);
  h += vocab.Text(rng, target > h.size() + 3 ? target - h.size() - 3 : 1);
  return h;
}

int Generate(const Options& opt) {
  if (mkdir(opt.out.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "generate_corpus: mkdir %s: %s\n", opt.out.c_str(), std::strerror(errno));
    return 1;
  }
  Rng rng(opt.seed);
  const Vocabulary vocab(rng);
  CorpusWriter writer(opt.out);
  Figures fig;

  if (opt.profile == "10k") {
    for (uint64_t i = 0; i < opt.messages; ++i) {
      const std::string m = TenKbMessage(rng, vocab, i);
      if (!writer.Write(m)) return 1;
      ++fig.messages;
      ++fig.mails;
      fig.bytes += m.size();
      if (m.size() > fig.largest) fig.largest = m.size();
    }
  } else if (opt.profile == "realistic") {
    std::vector<Attachment> pool;  // every attachment sent so far, for forwarding
    std::vector<std::string> recent_texts;  // for quoted replies
    int64_t t = 1690000000;
    while (fig.messages < opt.messages) {
      ++fig.mails;
      t += static_cast<int64_t>(rng.Range(5, 120));
      const auto& from = vocab.DrawPerson(rng);
      // Recipients at this site: each gets its own copy of the mail.
      const double r = rng.Uniform();
      const uint64_t copies = r < 0.72 ? 1 : r < 0.88 ? 2 : r < 0.96 ? rng.Range(3, 5) : rng.Range(6, 12);
      std::vector<const Vocabulary::Person*> rcpts;
      for (uint64_t c = 0; c < copies; ++c) rcpts.push_back(&vocab.DrawPerson(rng));

      // Body text: log-normal size, sometimes quoting an earlier mail.
      size_t text_bytes = static_cast<size_t>(rng.LogNormal(1800, 0.9));
      if (text_bytes > 200000) text_bytes = 200000;
      if (text_bytes < 60) text_bytes = 60;
      std::string text = vocab.Text(rng, text_bytes);
      if (!recent_texts.empty() && rng.Chance(0.3)) {
        const std::string& q = recent_texts[rng.Range(0, recent_texts.size() - 1)];
        text += "\r\nOn an earlier date, someone wrote:\r\n";
        size_t pos = 0;
        while (pos < q.size() && pos < 4000) {
          size_t eol = q.find("\r\n", pos);
          if (eol == std::string::npos) eol = q.size();
          text += "> " + q.substr(pos, eol - pos) + "\r\n";
          pos = eol + 2;
        }
      }
      if (recent_texts.size() < 64) recent_texts.push_back(text);
      else recent_texts[rng.Range(0, 63)] = text;
      const auto& signer = vocab.DrawPerson(rng);
      text += "\r\n-- \r\n" + from.name + "\r\n" + signer.address + "\r\n";

      // Content: plain, or alternative with HTML; maybe with an attachment.
      const bool html = rng.Chance(0.35);
      const bool attach = rng.Chance(0.035);
      std::string content_type;
      std::string body;
      std::string alt;
      if (html) {
        const std::string ab = "alt-" + Hex(rng, 20);
        std::string h = "<html><head><meta charset=\"utf-8\"></head><body style=\"font-family:Calibri,"
                        "sans-serif;font-size:11pt\">\r\n<p>";
        for (char ch : text) {
          if (ch == '\r') continue;
          if (ch == '\n') h += "<br>\r\n";
          else if (ch == '>') h += "&gt;";
          else h += ch;
        }
        h += "</p>\r\n</body></html>\r\n";
        alt = "Content-Type: multipart/alternative; boundary=\"" + ab + "\"\r\n\r\n--" + ab +
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
              text + "\r\n--" + ab +
              "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + h +
              "\r\n--" + ab + "--\r\n";
      } else {
        alt = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + text;
      }
      uint64_t forwarded_bytes = 0;
      if (attach) {
        const Attachment* a = nullptr;
        if (!pool.empty() && rng.Chance(0.35)) {
          a = &pool[rng.Range(0, pool.size() - 1)];
          forwarded_bytes = a->encoded.size();
          ++fig.attachments_forwarded;
        } else {
          const bool big = rng.Chance(0.03);
          const size_t n = static_cast<size_t>(big ? rng.LogUniform(100e3, 5e6) : rng.LogUniform(8e3, 100e3));
          std::string data;
          std::string name;
          std::string type;
          if (rng.Chance(0.65)) {  // already compressed formats: random bytes
            data.resize(n);
            for (size_t i = 0; i < n; i += 8) {
              const uint64_t v = rng.Next();
              std::memcpy(&data[i], &v, n - i < 8 ? n - i : 8);
            }
            const bool pdf = rng.Chance(0.5);
            name = vocab.Draw(rng) + "_" + Hex(rng, 4) + (pdf ? ".pdf" : ".jpg");
            type = pdf ? "application/pdf" : "image/jpeg";
          } else {  // spreadsheets, documents: compressible
            while (data.size() < n) data += vocab.Draw(rng) + ";" + std::to_string(rng.Range(0, 99999)) + ";" +
                                            vocab.Draw(rng) + "\r\n";
            data.resize(n);
            name = vocab.Draw(rng) + "_" + Hex(rng, 4) + ".csv";
            type = "text/csv";
          }
          pool.push_back({"Content-Type: " + type + "; name=\"" + name +
                               "\"\r\nContent-Disposition: attachment; filename=\"" + name +
                               "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                          Base64Lines(data)});
          a = &pool.back();
          ++fig.attachments_new;
        }
        const std::string mb = "mixed-" + Hex(rng, 24);
        content_type = "Content-Type: multipart/mixed; boundary=\"" + mb + "\"\r\n";
        body = "This is a multi-part message in MIME format.\r\n\r\n--" + mb + "\r\n" + alt + "\r\n--" + mb +
               "\r\n" + a->part_headers + a->encoded + "\r\n--" + mb + "--\r\n";
      } else {
        // The single part's own headers become the top-level ones.
        const size_t split = alt.find("\r\n\r\n");
        content_type = alt.substr(0, split + 2);
        body = alt.substr(split + 4);
      }

      // Headers shared by all copies.
      std::string subject;
      for (int i = static_cast<int>(rng.Range(2, 8)); i > 0; --i) subject += vocab.Draw(rng) + " ";
      subject = (rng.Chance(0.3) ? "Re: " : "") + Vocabulary::Capital(subject.substr(0, subject.size() - 1));
      const std::string message_id = "<" + Hex(rng, 24) + "." + std::to_string(fig.mails) + "@" +
                                     from.address.substr(from.address.find('@') + 1) + ">";
      std::string common = "From: " + from.name + " <" + from.address + ">\r\n";
      std::string cc;
      if (rng.Chance(0.3)) {
        const auto& c = vocab.DrawPerson(rng);
        cc = "Cc: " + c.name + " <" + c.address + ">\r\n";
      }
      std::string tail = cc + "Subject: " + subject + "\r\nDate: " + RfcDate(t) + "\r\nMessage-ID: " +
                         message_id + "\r\nMIME-Version: 1.0\r\nX-Mailer: Generated Mailer 1.0\r\n";
      if (rng.Chance(0.5)) {
        std::string sig = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" +
                          from.address.substr(from.address.find('@') + 1) +
                          "; s=s1;\r\n\th=from:to:subject:date:message-id; bh=" + Hex(rng, 43) + "=;\r\n\tb=";
        std::string raw(192, '\0');
        for (auto& ch : raw) ch = static_cast<char>(rng.Next());
        std::string b = Base64Lines(raw);
        for (size_t p = 0; (p = b.find("\r\n", p)) != std::string::npos;) b.replace(p, 2, "\r\n\t"), p += 3;
        sig += b.substr(0, b.size() - 3) + "\r\n";
        tail += sig;
      }
      const std::string relay = "Received: from " + vocab.Word(rng.Range(120, 900)) + ".out.example ([192.0.2." +
                                std::to_string(rng.Range(1, 254)) + "])\r\n\tby mx.relay.example with ESMTP id " +
                                Hex(rng, 12) + "; " + RfcDate(t + 1) + "\r\n";

      for (uint64_t c = 0; c < copies && fig.messages < opt.messages; ++c) {
        const auto& rc = *rcpts[c];
        std::string m = "Return-Path: <" + from.address + ">\r\nDelivered-To: " + rc.address + "\r\n" +
                        Received(rng, "mail.corp.example", rc.address, t + 2 + static_cast<int64_t>(c)) +
                        Received(rng, "filter.corp.example", rc.address, t + 2) + relay + common + "To: " +
                        rc.name + " <" + rc.address + ">\r\n" + tail + content_type + "\r\n";
        m += body;
        if (!writer.Write(m)) return 1;
        ++fig.messages;
        fig.bytes += m.size();
        if (m.size() > fig.largest) fig.largest = m.size();
        if (c > 0) fig.dup_body_bytes += body.size();
        else fig.dup_attachment_bytes += forwarded_bytes;
      }
    }
  } else {
    std::fprintf(stderr, "generate_corpus: unknown profile %s (realistic or 10k)\n", opt.profile.c_str());
    return 2;
  }

  const double share =
      fig.bytes ? static_cast<double>(fig.dup_body_bytes + fig.dup_attachment_bytes) / static_cast<double>(fig.bytes)
                : 0.0;
  std::string figures;
  char line[256];
  std::snprintf(line, sizeof line,
                "profile=%s\nseed=%llu\nmessages=%llu\nmails=%llu\nbytes=%llu\nlargest=%llu\n"
                "dup_body_bytes=%llu\ndup_attachment_bytes=%llu\n",
                opt.profile.c_str(), static_cast<unsigned long long>(opt.seed),
                static_cast<unsigned long long>(fig.messages), static_cast<unsigned long long>(fig.mails),
                static_cast<unsigned long long>(fig.bytes), static_cast<unsigned long long>(fig.largest),
                static_cast<unsigned long long>(fig.dup_body_bytes),
                static_cast<unsigned long long>(fig.dup_attachment_bytes));
  figures += line;
  std::snprintf(line, sizeof line, "attachments_new=%llu\nattachments_forwarded=%llu\ndup_share=%.4f\n",
                static_cast<unsigned long long>(fig.attachments_new),
                static_cast<unsigned long long>(fig.attachments_forwarded), share);
  figures += line;
  std::fputs(figures.c_str(), stdout);
  std::string out = opt.out;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  const std::string path = out + ".figures";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr || std::fputs(figures.c_str(), f) < 0 || std::fclose(f) != 0) {
    std::fprintf(stderr, "generate_corpus: cannot write %s\n", path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--out" && has_value) opt.out = argv[++i];
    else if (a == "--messages" && has_value) opt.messages = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && has_value) opt.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--profile" && has_value) opt.profile = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: generate_corpus --out DIR [--messages N] [--seed S] [--profile realistic|10k]\n");
      return 2;
    }
  }
  if (opt.out.empty() || opt.messages == 0) {
    std::fprintf(stderr, "generate_corpus: --out DIR and --messages N > 0 are required\n");
    return 2;
  }
  return Generate(opt);
}
