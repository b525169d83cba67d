#include "client/progress.h"

#include <algorithm>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_output.h"

namespace gpool {
namespace {

// The ANSI sequence that erases from the cursor to the end of the line.
constexpr char kEraseToEndOfLine[] = "\033[K";
// The bar itself never grows wider than this, however wide the terminal.
constexpr int kMaxBarWidth = 40;
constexpr int kMinBarWidth = 10;

}  // namespace

std::string FormatRate(double per_second) {
  if (per_second < 1000) return absl::StrFormat("%.0f/s", per_second);
  if (per_second < 1e6) return absl::StrFormat("%.1fk/s", per_second / 1e3);
  if (per_second < 1e9) return absl::StrFormat("%.1fM/s", per_second / 1e6);
  return absl::StrFormat("%.1fG/s", per_second / 1e9);
}

std::string ProgressLine(const ProgressSnapshot& snapshot, int width) {
  const uint64_t total = snapshot.total_elements;
  const uint64_t done = std::min(snapshot.elements_done, total);
  // Per mille, rounded down, so the bar says 100% only when every element is in.
  const uint64_t permille =
      total == 0 ? 0
                 : static_cast<uint64_t>(absl::uint128(done) * 1000 / absl::uint128(total));
  const double seconds = absl::ToDoubleSeconds(snapshot.elapsed);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string eta = "?";
  if (done == total) {
    eta = "0s";
  } else if (done > 0 && rate > 0) {
    eta = CompactDuration(absl::Seconds(static_cast<double>(total - done) / rate));
  }
  // Fields are padded to their widest so that the bar keeps its width as the numbers grow.
  const std::string total_text = absl::StrCat(total);
  const std::string text = absl::StrCat(
      absl::StrFormat("%6s %*d/%s elements  %8s  ETA %-6s  ", PercentText(done, total),
                      static_cast<int>(total_text.size()), done, total_text, FormatRate(rate),
                      eta),
      snapshot.workers, snapshot.workers == 1 ? " worker" : " workers");

  const int bar_width = std::min(kMaxBarWidth, width - static_cast<int>(text.size()) - 3);
  if (bar_width < kMinBarWidth) return text.substr(0, std::max(0, width));
  const int filled = static_cast<int>(permille * static_cast<uint64_t>(bar_width) / 1000);
  return absl::StrCat("[", std::string(filled, '#'), std::string(bar_width - filled, '.'),
                      "] ", text);
}

ProgressBar::ProgressBar(std::ostream& out, int width, absl::Duration min_interval)
    : out_(out), width_(width), min_interval_(min_interval) {}

void ProgressBar::Start(uint64_t total_elements, absl::Time now) {
  start_ = now;
  total_elements_ = total_elements;
  Draw(now);
}

void ProgressBar::AddChunk(const ChunkResult& chunk, absl::Time now) {
  elements_done_ += chunk.element_count;
  workers_.insert(chunk.worker.worker_id);
  if (now - last_draw_ >= min_interval_) Draw(now);
}

void ProgressBar::Clear() {
  if (!shown_) return;
  out_ << '\r' << kEraseToEndOfLine << std::flush;
  shown_ = false;
}

ProgressSnapshot ProgressBar::Snapshot(absl::Time now) const {
  ProgressSnapshot snapshot;
  snapshot.elements_done = elements_done_;
  snapshot.total_elements = total_elements_;
  snapshot.workers = static_cast<int>(workers_.size());
  snapshot.elapsed = now - start_;
  return snapshot;
}

void ProgressBar::Draw(absl::Time now) {
  // Leave the last column free: writing there makes some terminals wrap, and the next "\r"
  // would then redraw on a new line.
  out_ << '\r' << ProgressLine(Snapshot(now), width_ - 1) << kEraseToEndOfLine << std::flush;
  last_draw_ = now;
  shown_ = true;
}

}  // namespace gpool
