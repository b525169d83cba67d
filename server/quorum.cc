#include "server/quorum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

namespace gpool {
namespace {

// SplitMix64's output function: a good 64-bit mix of a counter.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Threshold(double fraction) {
  if (!(fraction > 0)) return 0;
  if (fraction >= 1) return UINT64_MAX;
  return static_cast<uint64_t>(std::ldexp(static_cast<long double>(fraction), 64));
}

// The two byte sequences are equal, whichever pieces they arrived in.
bool SameBytes(const EncodedValues& a, const EncodedValues& b) {
  if (a.bytes() != b.bytes()) return false;
  const auto& pa = a.pieces();
  const auto& pb = b.pieces();
  size_t ia = 0, ib = 0, oa = 0, ob = 0;
  size_t left = a.bytes();
  while (left > 0) {
    while (oa == pa[ia].size) ++ia, oa = 0;
    while (ob == pb[ib].size) ++ib, ob = 0;
    const size_t n = std::min(pa[ia].size - oa, pb[ib].size - ob);
    if (std::memcmp(pa[ia].data + oa, pb[ib].data + ob, n) != 0) return false;
    oa += n;
    ob += n;
    left -= n;
  }
  return true;
}

}  // namespace

bool SameResult(const ChunkReply& a, const ChunkReply& b) {
  return a.count == b.count && a.sum == b.sum && a.min == b.min && a.max == b.max &&
         a.values_shared == b.values_shared && SameBytes(a.values, b.values);
}

Quorum::Quorum(double fraction, uint64_t seed)
    : seed_(seed), all_(fraction >= 1), threshold_(Threshold(fraction)) {}

bool Quorum::Sampled(uint64_t chunk_index) const {
  if (all_) return true;
  if (threshold_ == 0) return false;
  return Mix(seed_ ^ Mix(chunk_index)) < threshold_;
}

Quorum::Verdict Quorum::Add(uint64_t chunk_index, const std::string& worker_id,
                            ChunkReply reply) {
  Verdict verdict;
  std::vector<Candidate>& ballot = ballots_[chunk_index];
  for (const Candidate& candidate : ballot) {
    if (std::find(candidate.workers.begin(), candidate.workers.end(), worker_id) !=
        candidate.workers.end()) {
      verdict.repeated = true;
      verdict.distinct = static_cast<int>(ballot.size());
      return verdict;
    }
  }
  for (size_t i = 0; i < ballot.size(); ++i) {
    if (!SameResult(ballot[i].reply, reply)) continue;
    // Every candidate has a worker, and this one is not among them: two workers agree.
    verdict.agreed = std::move(reply);
    verdict.agreed_with = ballot[i].workers.front();
    for (size_t j = 0; j < ballot.size(); ++j) {
      if (j == i) continue;
      verdict.dissenters.insert(verdict.dissenters.end(), ballot[j].workers.begin(),
                                ballot[j].workers.end());
    }
    ballots_.erase(chunk_index);
    return verdict;
  }
  verdict.mismatch = !ballot.empty();
  ballot.push_back(Candidate{std::move(reply), {worker_id}});
  verdict.distinct = static_cast<int>(ballot.size());
  return verdict;
}

std::vector<std::string> Quorum::Voters(uint64_t chunk_index) const {
  std::vector<std::string> voters;
  auto it = ballots_.find(chunk_index);
  if (it == ballots_.end()) return voters;
  for (const Candidate& candidate : it->second) {
    voters.insert(voters.end(), candidate.workers.begin(), candidate.workers.end());
  }
  return voters;
}

std::vector<uint64_t> Quorum::Forget(const std::string& worker_id) {
  std::vector<uint64_t> emptied;
  for (auto it = ballots_.begin(); it != ballots_.end();) {
    std::vector<Candidate>& ballot = it->second;
    for (Candidate& candidate : ballot) {
      candidate.workers.erase(
          std::remove(candidate.workers.begin(), candidate.workers.end(), worker_id),
          candidate.workers.end());
    }
    ballot.erase(std::remove_if(ballot.begin(), ballot.end(),
                                [](const Candidate& c) { return c.workers.empty(); }),
                 ballot.end());
    if (ballot.empty()) {
      emptied.push_back(it->first);
      it = ballots_.erase(it);
    } else {
      ++it;
    }
  }
  return emptied;
}

}  // namespace gpool
