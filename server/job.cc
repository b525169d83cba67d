#include "server/job.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/index_set.h"
#include "common/input.h"
#include "common/log.h"
#include "common/shared_values.h"
#include "common/worker_registration.h"
#include "common/value_stats.h"

namespace gpool {
namespace {

// How many recent samples a job keeps of each kind.
constexpr size_t kSamples = 64;

// An error the function itself raises for the chunk's input: it would repeat wherever the
// chunk runs, so the job fails at once. Any other error is the worker's (or its link's): the
// chunk may succeed elsewhere.
bool IsDeterministicFailure(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kOutOfRange;
}

// A run of the job's chunk on `worker_label` ended without a result: the chunk is re-queued,
// or the status that aborts the job once its attempts ran out.
std::optional<absl::Status> RunLost(Job& job, uint64_t chunk_index,
                                    const std::string& worker_label, int max_attempts) {
  switch (job.chunks->Lost(chunk_index, worker_label, max_attempts)) {
    case ChunkTable::Loss::kNotActive:
    case ChunkTable::Loss::kStillRunning:
      return std::nullopt;
    case ChunkTable::Loss::kRequeued:
      ++job.stats.retries;
      return std::nullopt;
    case ChunkTable::Loss::kExhausted:
      break;
  }
  const ChunkPlan& plan = job.chunks->plan();
  const std::vector<std::string>& lost_on = job.chunks->Active(chunk_index)->lost_on;
  return absl::AbortedError(absl::StrCat(
      "chunk ", chunk_index, " (",
      job.spec.input->DescribeSlice(plan.FirstElement(chunk_index),
                                    plan.ElementCount(chunk_index)),
      ") failed ", lost_on.size(), " times, on workers ", absl::StrJoin(lost_on, ", "),
      "; giving up after ", max_attempts, " attempts"));
}

}  // namespace

std::string Contradiction(const ChunkReply& reply) {
  if (reply.values.empty()) return "";
  switch (reply.values.type()) {
    case ElementType::kInt64:
      if (reply.summary != ChunkReply::SummaryKind::kInt64) return "int64 values without their summary";
      return Disagreement(Summarize(reply.values), reply.count, reply.sum, reply.min, reply.max);
    case ElementType::kDouble:
      if (reply.summary != ChunkReply::SummaryKind::kDouble) return "double values without their summary";
      return Disagreement(SummarizeDoubles(reply.values), reply.count, reply.doubles);
    default:
      // Strings and bytes have no summary; the count is checked against the plan.
      return "";
  }
}

absl::Status CallFailure(const absl::StatusOr<std::vector<ChunkReply>>& replies,
                         size_t chunks) {
  if (!replies.ok()) return replies.status();
  if (replies->size() == chunks) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("it answered ", replies->size(), " of the ", chunks, " chunks of a call"));
}

absl::Status ValidateJobSpec(const JobSpec& spec) {
  if (spec.function.empty()) {
    return absl::InvalidArgumentError("no function given; name one, e.g. square");
  }
  // The name is logged and echoed in errors: the same limits as a worker's function names.
  if (absl::Status status = ValidateFunctionName(spec.function, "MapRequest.function");
      !status.ok()) {
    return status;
  }
  if (spec.input == nullptr) {
    return absl::InvalidArgumentError("the request has no input: set a range or a list");
  }
  if (absl::Status status = ValidateInput(*spec.input); !status.ok()) return status;
  if (spec.chunk_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be at least 1 (or 0 for the default), got ",
                     spec.chunk_size));
  }
  if (spec.max_workers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max workers must be at least 1 (or 0 for no limit), got ",
                     spec.max_workers));
  }
  if (spec.max_chunks_ahead < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_chunks_ahead must be at least 1 (or 0 for no bound), got ",
                     spec.max_chunks_ahead));
  }
  // Written so that NaN fails too.
  if (!(spec.verify_fraction >= 0 && spec.verify_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "verify fraction must be from 0 (verify no chunk) to 1 (verify every chunk), got ",
        spec.verify_fraction));
  }
  if (spec.shared_values.has_value()) {
    if (spec.mode != ResultMode::kValues) {
      return absl::InvalidArgumentError(
          "shared_values is for jobs that return values; a job that returns sums has none");
    }
    if (absl::Status status = ValidateSharedValuesRef(*spec.shared_values); !status.ok()) {
      return status;
    }
  }
  if (!spec.completed_chunks.empty() && spec.chunk_size == 0) {
    return absl::InvalidArgumentError(
        "resuming a job (completed chunks given) needs the original chunk size");
  }
  for (const auto& [first, last] : spec.completed_chunks) {
    if (first > last) {
      return absl::InvalidArgumentError(
          absl::StrCat("completed chunk range ", first, "..", last, " is reversed"));
    }
  }
  return absl::OkStatus();
}

void JobDispatchState::RecordChunkDuration(absl::Duration duration) {
  chunk_durations.push_back(duration);
  if (chunk_durations.size() > kSamples) chunk_durations.pop_front();
}

void JobDispatchState::RecordCall(absl::Duration duration, int64_t chunks) {
  time_per_chunk.push_back(duration / std::max<int64_t>(1, chunks));
  if (time_per_chunk.size() > kSamples) time_per_chunk.pop_front();
}

Job::Job(uint64_t sequence_in, JobSpec spec_in, ResultWindow window_in, absl::Time submitted_in)
    : sequence(sequence_in),
      job_id(absl::StrCat("job-", sequence_in)),
      spec(std::move(spec_in)),
      stream(std::make_shared<JobStream>()),
      submitted(submitted_in),
      window(window_in),
      // A fresh seed per job: which chunks are verified cannot be predicted by a worker.
      quorum(spec.verify_fraction, absl::Uniform<uint64_t>(absl::BitGen())) {
  dispatch.function = spec.function;
  dispatch.max_workers = spec.max_workers;
}

absl::StatusOr<JobEvent> Job::Plan(int cluster_slots, int job_slots,
                                   const FunctionSignature& function) {
  if (!TakesElements(function.input_type, spec.input->type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "function ", function.Describe(), " does not take ", ElementTypeName(spec.input->type()),
        " elements, and the job's input is ", ElementTypeName(spec.input->type()),
        ": give it ", ElementTypeName(function.input_type), " elements (gpool map --type ",
        ElementTypeName(function.input_type), ")"));
  }
  signature = function;
  dispatch.one_chunk_per_call =
      !IsNumeric(function.input_type) || !IsNumeric(function.output_type) ||
      !IsNumeric(spec.input->type());
  absl::StatusOr<ChunkPlan> plan =
      PlanChunks(spec.input->size(), spec.chunk_size, job_slots, spec.mode,
                 spec.input->is_range() || spec.exact_chunk_size
                     ? 0
                     : spec.input->elements().LargestElementBytes());
  if (!plan.ok()) return plan.status();
  IndexSet already_done;
  for (const auto& [first, last] : spec.completed_chunks) {
    if (last >= plan->num_chunks) {
      return absl::InvalidArgumentError(absl::StrCat("completed chunk range ", first, "..",
                                                     last, " is beyond the ", plan->num_chunks,
                                                     " chunks of the job"));
    }
    already_done.InsertRange(first, last);
  }
  chunks.emplace(*plan, std::move(already_done));
  JobEvent event;
  event.kind = JobEvent::Kind::kStarted;
  event.plan.job_id = job_id;
  event.plan.total_elements = plan->total_elements;
  event.plan.chunk_size = plan->chunk_size;
  event.plan.num_chunks = plan->num_chunks;
  event.plan.cluster_slots = cluster_slots;
  event.plan.job_slots = job_slots;
  event.plan.input_type = function.input_type;
  event.plan.output_type = function.output_type;
  return event;
}

std::string Job::CheckReply(uint64_t chunk_index, const ChunkReply& reply,
                            const std::string& contradiction) const {
  const uint64_t expected = chunks->plan().ElementCount(chunk_index);
  // Values come in the reply, or, only where the client offered a buffer, in that buffer.
  const uint64_t expected_in_reply =
      spec.mode == ResultMode::kValues && !reply.values_shared ? expected : 0;
  if (reply.count != expected ||
      static_cast<uint64_t>(reply.values.size()) != expected_in_reply) {
    return absl::StrCat("it answered ", reply.count, " elements and ", reply.values.size(),
                        reply.values_shared ? " (+ shared)" : "", " values for a chunk of ",
                        expected, " elements");
  }
  if (expected_in_reply > 0 && reply.values.type() != signature.output_type) {
    return absl::StrCat("it answered ", ElementTypeName(reply.values.type()), " values for ",
                        signature.Describe());
  }
  if (reply.summary != SummaryKindOf(signature.output_type)) {
    return absl::StrCat("its summary is not the one of ", signature.Describe(), "'s results");
  }
  if (reply.values_shared && !IsNumeric(signature.output_type)) {
    return "it answered values_shared for string or bytes values";
  }
  if (reply.values_shared && !spec.shared_values.has_value()) {
    return "it answered values_shared for a job that offered no shared buffer";
  }
  if (reply.values_shared && quorum.Sampled(chunk_index)) {
    return "it answered values_shared for a chunk sent without the shared buffer";
  }
  if (!contradiction.empty()) {
    return absl::StrCat("its result contradicts itself: ", contradiction);
  }
  return "";
}

JobEvent Job::ChunkEvent(uint64_t chunk_index, ChunkReply reply, const std::string& worker_id,
                         int attempt) const {
  JobEvent event;
  event.kind = JobEvent::Kind::kChunk;
  ChunkDelivery& chunk = event.chunk;
  chunk.chunk_index = chunk_index;
  chunk.first_element = chunks->plan().FirstElement(chunk_index);
  chunk.element_count = chunks->plan().ElementCount(chunk_index);
  chunk.values = std::move(reply.values);
  chunk.values_shared = reply.values_shared;
  chunk.sum = reply.sum;
  chunk.min = reply.min;
  chunk.max = reply.max;
  chunk.doubles = std::move(reply.doubles);
  chunk.summary = reply.summary;
  chunk.worker_id = worker_id;
  chunk.worker_pid = reply.pid;
  chunk.attempt = attempt;
  chunk.tail = !chunks->HasRetries() && !chunks->HasFresh();
  return event;
}

absl::Status Job::NoWorkerError(absl::Duration waited, const std::vector<std::string>& offered,
                                const std::string& coordinator_address) const {
  return absl::UnavailableError(absl::StrCat(
      "no worker offering '", spec.function, "' was available for ",
      absl::FormatDuration(waited), "; ",
      offered.empty()
          ? "no worker is registered"
          : absl::StrCat("the registered workers offer: ", absl::StrJoin(offered, ", ")),
      "; start workers with: gpool-worker --coordinator ",
      coordinator_address.empty() ? "HOST:PORT (this coordinator's --listen address)"
                                  : coordinator_address));
}

JobEvent Job::FinishedEvent(const absl::Status& status) const {
  JobEvent event;
  event.kind = JobEvent::Kind::kFinished;
  event.status = status;
  // UNAVAILABLE (no worker for the job) may pass: a later resubmission can succeed. Every
  // other failure is the job's own.
  event.final = !absl::IsUnavailable(status);
  event.stats = stats;
  return event;
}

JobInfo Job::Snapshot(absl::Time now) const {
  JobInfo j;
  j.job_id = job_id;
  j.function = spec.function;
  j.total_elements = spec.input->size();
  j.num_chunks = chunks.has_value() ? chunks->plan().num_chunks : 0;
  j.chunks_done = chunks.has_value() ? chunks->chunks_done() : 0;
  j.elapsed = now - submitted;
  j.stats = stats;
  return j;
}

std::vector<ChunkTask> Job::StartCall(uint64_t call_id, const std::string& worker_id,
                                      const std::vector<uint64_t>& chunk_indices,
                                      absl::Time now) {
  dispatch.workers_used.insert(worker_id);
  open_chunks_by_call[call_id] = static_cast<int>(chunk_indices.size());
  std::vector<ChunkTask> tasks;
  tasks.reserve(chunk_indices.size());
  const ChunkPlan& plan = chunks->plan();
  for (uint64_t chunk_index : chunk_indices) {
    ChunkTask& task = tasks.emplace_back();
    task.call_id = call_id;
    task.job_id = job_id;
    task.chunk_index = chunk_index;
    task.attempt = chunks->StartRun(chunk_index, worker_id, call_id, now);
    // A chunk's first run reserves its result's bytes until the result reaches the client
    // (ResultBudget); retries, backups and verification copies share that reservation.
    if (task.attempt == 1) reserved_bytes += WindowValues(chunk_index) * 8;
    task.function = spec.function;
    task.job_input = spec.input;
    task.first_element = plan.FirstElement(chunk_index);
    task.element_count = plan.ElementCount(chunk_index);
    task.mode = spec.mode;
    // A verified chunk's values travel in the reply, where they can be compared: two copies
    // writing the same place of the client's buffer could not be.
    if (!quorum.Sampled(chunk_index)) task.shared_values = spec.shared_values;
  }
  peak_reserved_bytes = std::max(peak_reserved_bytes, reserved_bytes);
  return tasks;
}

RunOutcome Job::AcceptResult(uint64_t chunk_index, const std::string& worker_id,
                             const std::string& worker_label, int attempt, ChunkReply reply,
                             const std::string& contradiction, absl::Time now,
                             int max_attempts) {
  if (workers_distrusted.count(worker_id) > 0) {
    // Quarantined: its chunks were handed back already, and its word counts no more.
    ++stats.duplicates_dropped;
    return RunOutcome{};
  }
  const std::string wrong = CheckReply(chunk_index, reply, contradiction);
  if (!wrong.empty()) {
    // Never a wrong answer with OK: the result is dropped and the chunk runs elsewhere.
    const absl::Status refused =
        absl::DataLossError(absl::StrCat("chunk ", chunk_index, ": ", wrong));
    if (chunks->Active(chunk_index) != nullptr) {
      return RunFailed(chunk_index, worker_id, worker_label, attempt, refused, max_attempts);
    }
    // A late copy: nothing to redo, but the worker is at fault all the same.
    LogWarning(absl::StrCat(job_id, ": worker ", worker_id, " sent a late copy of chunk ",
                            chunk_index, " that was refused: ", refused.message()));
    RunOutcome outcome;
    outcome.worker_fault = true;
    return outcome;
  }
  if (quorum.Sampled(chunk_index)) {
    return AcceptVote(chunk_index, worker_id, attempt, std::move(reply), now, max_attempts);
  }
  RunOutcome outcome;
  std::optional<ActiveChunk> done = chunks->Complete(chunk_index);
  if (!done.has_value()) {
    // First result wins; this is a late copy.
    ++stats.duplicates_dropped;
    return outcome;
  }
  // The other copies of this chunk are cancelled, freeing their slots, unless their call
  // still carries chunks nobody has finished.
  for (const ChunkRun& run : done->runs) {
    if (run.worker_id == worker_id && run.attempt == attempt) {
      dispatch.RecordChunkDuration(now - run.started);
      continue;
    }
    auto open = open_chunks_by_call.find(run.call_id);
    if (open != open_chunks_by_call.end() && --open->second > 0) continue;
    outcome.calls_to_cancel.emplace_back(run.worker_id, run.call_id);
  }
  window.Add(WindowValues(chunk_index));
  outcome.chunk_event = ChunkEvent(chunk_index, std::move(reply), worker_id, attempt);
  if (chunks->AllDone()) outcome.finish = absl::OkStatus();
  return outcome;
}

RunOutcome Job::AcceptVote(uint64_t chunk_index, const std::string& worker_id, int attempt,
                           ChunkReply reply, absl::Time now, int max_attempts) {
  RunOutcome outcome;
  const ActiveChunk* active = chunks->Active(chunk_index);
  if (active == nullptr) {
    // Published already: this copy came too late to vote.
    ++stats.duplicates_dropped;
    return outcome;
  }
  auto run = std::find_if(active->runs.begin(), active->runs.end(), [&](const ChunkRun& r) {
    return r.worker_id == worker_id && r.attempt == attempt;
  });
  // A run that already ended (its worker was lost or quarantined, the chunk handed back)
  // does not vote: only a worker the coordinator still counts on may outvote another.
  if (run == active->runs.end()) {
    ++stats.duplicates_dropped;
    return outcome;
  }
  dispatch.RecordChunkDuration(now - run->started);
  chunks->EndRun(chunk_index, worker_id, attempt);
  const bool first = !quorum.Holds(chunk_index);
  Quorum::Verdict verdict = quorum.Add(chunk_index, worker_id, std::move(reply));
  if (!verdict.agreed.has_value()) {
    if (verdict.repeated) {
      ++stats.duplicates_dropped;
    } else if (first) {
      // Held until another worker confirms it: the window bounds what is held.
      window.Add(WindowValues(chunk_index));
    }
    if (verdict.mismatch) {
      ++stats.verification_mismatches;
      LogWarning(absl::StrCat(job_id, ": chunk ", chunk_index, ": the result of ", worker_id,
                              " differs from that of ",
                              absl::StrJoin(quorum.Voters(chunk_index), ", "),
                              "; another worker decides"));
    }
    if (verdict.distinct >= max_attempts) {
      const ChunkPlan& plan = chunks->plan();
      outcome.finish = absl::AbortedError(absl::StrCat(
          "chunk ", chunk_index, " (",
          spec.input->DescribeSlice(plan.FirstElement(chunk_index),
                                    plan.ElementCount(chunk_index)),
          ") got ", verdict.distinct, " different results from workers ",
          absl::StrJoin(quorum.Voters(chunk_index), ", "),
          " and no two agree (--verify); giving up after ", max_attempts, " attempts"));
      return outcome;
    }
    // The next copy goes to a worker that has not computed the chunk (CopyExclusions),
    // unless a copy still runs on one.
    // A deciding copy goes first: until it lands, a liar keeps taking chunks.
    if (chunks->Active(chunk_index)->runs.empty()) {
      chunks->RequestCopy(chunk_index, /*urgent=*/verdict.mismatch);
    }
    return outcome;
  }
  ++stats.chunks_verified;
  for (const std::string& dissenter : verdict.dissenters) {
    outcome.quarantine.emplace_back(
        dissenter, absl::StrCat("its result for chunk ", chunk_index, " of ", job_id,
                                " differed from that of ", verdict.agreed_with, " and ",
                                worker_id, ", which agree (--verify)"));
  }
  std::optional<ActiveChunk> done = chunks->Complete(chunk_index);
  for (const ChunkRun& other : done->runs) {
    auto open = open_chunks_by_call.find(other.call_id);
    if (open != open_chunks_by_call.end() && --open->second > 0) continue;
    outcome.calls_to_cancel.emplace_back(other.worker_id, other.call_id);
  }
  // Its place in the result window was taken when its first result was held.
  outcome.chunk_event = ChunkEvent(chunk_index, *std::move(verdict.agreed), worker_id, attempt);
  if (chunks->AllDone()) outcome.finish = absl::OkStatus();
  return outcome;
}

uint64_t Job::AheadEnd() const {
  if (spec.max_chunks_ahead <= 0) return UINT64_MAX;
  const uint64_t lowest = chunks->LowestNotDone();
  const uint64_t ahead = static_cast<uint64_t>(spec.max_chunks_ahead);
  return lowest > UINT64_MAX - ahead ? UINT64_MAX : lowest + ahead;
}

bool Job::FreshDispatchable() const {
  return chunks->HasFresh() && chunks->NextFresh() < AheadEnd();
}

int64_t Job::WindowValues(uint64_t chunk_index) const {
  return spec.mode == ResultMode::kValues
             ? static_cast<int64_t>(chunks->plan().ElementCount(chunk_index))
             : 0;
}

std::vector<std::string> Job::CopyExclusions(uint64_t chunk_index) const {
  std::vector<std::string> exclusions;
  if (!chunks.has_value()) return exclusions;
  const ActiveChunk* active = chunks->Active(chunk_index);
  if (active == nullptr) return exclusions;
  for (const ChunkRun& run : active->runs) exclusions.push_back(run.worker_id);
  for (std::string& voter : quorum.Voters(chunk_index)) exclusions.push_back(std::move(voter));
  return exclusions;
}

void Job::WorkerQuarantined(const std::string& worker_id) {
  workers_distrusted.insert(worker_id);
  if (!chunks.has_value()) return;
  // Each chunk emptied has a copy queued or running (AcceptVote queued one with the vote),
  // whose result starts the vote anew and takes the window's place again.
  for (uint64_t chunk_index : quorum.Forget(worker_id)) {
    window.Delivered(1, WindowValues(chunk_index));
  }
}

absl::Status Job::NoVerifierError(absl::Duration waited, uint64_t chunk_index) const {
  const std::vector<std::string> voters = quorum.Voters(chunk_index);
  return absl::UnavailableError(absl::StrCat(
      "chunk ", chunk_index, " waited ", absl::FormatDuration(waited),
      " for a worker to verify it (--verify): every worker that may run '", spec.function,
      "' for this job already computed it (", absl::StrJoin(voters, ", "),
      "); verification needs ", voters.size() + 1, " distinct workers",
      spec.max_workers > 0 ? absl::StrCat(" within --processes ", spec.max_workers) : "",
      ": start more workers, or map without --verify"));
}

RunOutcome Job::RunFailed(uint64_t chunk_index, const std::string& worker_id,
                          const std::string& worker_label, int attempt,
                          const absl::Status& status, int max_attempts) {
  RunOutcome outcome;
  // No run: the chunk is done already and the failure does not matter, or the worker was
  // already declared dead and the chunk re-queued.
  if (!chunks->EndRun(chunk_index, worker_id, attempt)) return outcome;
  if (IsDeterministicFailure(status.code())) {
    outcome.finish = status;
    return outcome;
  }
  // CANCELLED is the coordinator's own doing (or the worker's drain), not a fault.
  if (status.code() != absl::StatusCode::kCancelled) {
    chunks->AddFault(chunk_index, worker_id);
    outcome.worker_fault = true;
    LogWarning(absl::StrCat(job_id, ": worker ", worker_label, " failed chunk ", chunk_index,
                            " (", status.ToString(), "); the chunk runs again"));
  }
  // The chunk goes elsewhere; the reason goes into the job's error if the attempts run out.
  outcome.finish = RunLost(*this, chunk_index,
                           absl::StrCat(worker_label, " [",
                                        absl::StatusCodeToString(status.code()), ": ",
                                        status.message(), "]"),
                           max_attempts);
  return outcome;
}

std::optional<absl::Status> Job::WorkerGone(const std::string& worker_id,
                                            const std::string& worker_label,
                                            uint64_t chunk_index, int attempt, bool lost,
                                            int max_attempts) {
  dispatch.workers_used.erase(worker_id);
  if (lost && workers_lost.insert(worker_id).second) ++stats.workers_lost;
  if (!chunks.has_value()) return std::nullopt;
  chunks->EndRun(chunk_index, worker_id, attempt);
  if (lost) return RunLost(*this, chunk_index, worker_label, max_attempts);
  if (chunks->HandBack(chunk_index) == ChunkTable::Loss::kRequeued) {
    // Dispatched again, but no attempt spent: a rolling restart must not abort jobs.
    ++stats.retries;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, uint64_t>> Job::Finish() {
  finished = true;
  std::vector<std::pair<std::string, uint64_t>> calls;
  if (!chunks.has_value()) return calls;
  std::set<uint64_t> seen;
  for (const auto& [chunk_index, active] : chunks->active()) {
    for (const ChunkRun& run : active.runs) {
      if (seen.insert(run.call_id).second) calls.emplace_back(run.worker_id, run.call_id);
    }
  }
  return calls;
}

}  // namespace gpool
