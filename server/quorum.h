// Sampled re-execution of one job's chunks (--verify; BOINC's quorum of redundant results):
// which chunks are verified, and, for each one being verified, the distinct results received
// so far with the workers that sent each. A verified chunk's result is published only once
// two results from different workers agree (element count, partial sum, min, max and, when
// the job carries values, every value); until then they are held here. When they agree, the
// workers whose results differ are the minority: the caller quarantines them.
//
// Which chunks are verified is a counter-based draw (SplitMix64 of the job's seed and the
// chunk index): the same answer every time it is asked, and no memory per chunk, so a job of
// 10^9 chunks costs nothing until a chunk is actually being verified.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_QUORUM_H_
#define GPOOL_SERVER_QUORUM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "server/worker_connection.h"

namespace gpool {

// Whether two results of one chunk agree: element count, sum, min, max, where the values
// travel (shared or not) and every value.
bool SameResult(const ChunkReply& a, const ChunkReply& b);

class Quorum {
 public:
  // `fraction` of the chunks (0 to 1, validated by the caller) is verified, drawn from `seed`.
  Quorum(double fraction, uint64_t seed);

  // Whether `chunk_index` needs two agreeing results. Always for fraction 1, never for 0.
  bool Sampled(uint64_t chunk_index) const;

  struct Verdict {
    // The result to publish: two workers agree on it. nullopt: the chunk needs another copy
    // on a worker that is not among Voters.
    std::optional<ChunkReply> agreed;
    // When agreed: the other worker that sent it, and the workers whose results differ.
    std::string agreed_with;
    std::vector<std::string> dissenters;
    // The result differs from every result held for the chunk before it.
    bool mismatch = false;
    // The worker had sent a result for the chunk already: this one is ignored.
    bool repeated = false;
    // Distinct results held for the chunk now (0 when agreed).
    int distinct = 0;
  };
  // A result of `chunk_index` from `worker_id`; the chunk is forgotten once agreed.
  Verdict Add(uint64_t chunk_index, const std::string& worker_id, ChunkReply reply);

  // Whether some result of `chunk_index` is held.
  bool Holds(uint64_t chunk_index) const { return ballots_.count(chunk_index) > 0; }
  // The workers whose results of `chunk_index` are held: its next copy goes elsewhere.
  std::vector<std::string> Voters(uint64_t chunk_index) const;
  // Drops every result `worker_id` sent (it was quarantined: its word counts no more).
  // Returns the chunks left holding no result.
  std::vector<uint64_t> Forget(const std::string& worker_id);

 private:
  struct Candidate {
    ChunkReply reply;
    std::vector<std::string> workers;
  };

  const uint64_t seed_;
  const bool all_;
  // A chunk is verified when its draw is below this (fraction × 2^64).
  const uint64_t threshold_;
  absl::btree_map<uint64_t, std::vector<Candidate>> ballots_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_QUORUM_H_
