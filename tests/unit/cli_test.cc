// Unit tests of what the gpool CLI prints, without a cluster: reductions and the exact mean,
// JSON escaping and the --json documents (checked with an independent parser, nlohmann/json),
// the `gpool status` tables, and the progress bar's line and redraw policy.
#include <sstream>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli_output.h"
#include "client/json.h"
#include "client/progress.h"
#include "client/reduction.h"
#include "common/int128.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Parses without exceptions; a parse error is a discarded value the tests check for.
Json Parse(const std::string& text) {
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// A summary of the squares of 1..10 computed by two workers.
MapSummary SquaresOneToTen() {
  MapSummary summary;
  summary.job.job_id = "job-4";
  summary.job.total_elements = 10;
  summary.job.chunk_size = 5;
  summary.job.num_chunks = 2;
  summary.job.cluster_slots = 2;
  summary.job.job_slots = 2;
  summary.sum = 385;
  summary.count = 10;
  summary.min = 1;
  summary.max = 100;
  summary.stats.retries = 1;
  summary.chunks_by_worker = {{WorkerIdentity{"w1", "node-a", 101}, 1},
                              {WorkerIdentity{"w2", "node-b", 102}, 1}};
  return summary;
}

// ---- Reductions -------------------------------------------------------------------------

TEST(ReductionTest, ParseReduction_KnownNames_RoundTrip) {
  for (const std::string name : {"sum", "min", "max", "count", "mean"}) {
    ASSERT_OK_AND_ASSIGN(Reduction reduction, ParseReduction(name));
    EXPECT_EQ(ReductionName(reduction), name);
  }
}

TEST(ReductionTest, ParseReduction_Unknown_IsInvalidArgumentListingChoices) {
  EXPECT_THAT(ParseReduction("median"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'median'; use sum, min, max, count or mean")));
}

TEST(ReductionTest, ComputeMean_TerminatingDecimal_IsExact) {
  const ExactMean mean = ComputeMean(385, 10);
  EXPECT_EQ(mean.fraction, "77/2");
  EXPECT_EQ(mean.decimal, "38.5");
  EXPECT_TRUE(mean.decimal_is_exact);
  EXPECT_EQ(ComputeMean(10, 2).decimal, "5");
  EXPECT_EQ(ComputeMean(10, 2).fraction, "5");
  EXPECT_EQ(ComputeMean(1, 8).decimal, "0.125");
  EXPECT_EQ(ComputeMean(-3, 4).decimal, "-0.75");
  EXPECT_EQ(ComputeMean(-3, 4).fraction, "-3/4");
  EXPECT_EQ(ComputeMean(0, 7).decimal, "0");
  EXPECT_EQ(ComputeMean(0, 7).fraction, "0");
}

TEST(ReductionTest, ComputeMean_NonTerminating_FractionAndDecimalRoundedToSixPlaces) {
  const ExactMean mean = ComputeMean(8, 3);
  EXPECT_EQ(mean.fraction, "8/3");
  EXPECT_EQ(mean.decimal, "2.666667");
  EXPECT_FALSE(mean.decimal_is_exact);
  EXPECT_EQ(ComputeMean(-8, 3).decimal, "-2.666667");
  EXPECT_EQ(ComputeMean(-8, 3).fraction, "-8/3");
  EXPECT_EQ(ComputeMean(1, 7).decimal, "0.142857");  // next digit 1: rounds down
  EXPECT_EQ(ComputeMean(6, 9).fraction, "2/3");
}

TEST(ReductionTest, ComputeMean_SmallNonTerminating_KeepsSixSignificantDigits) {
  EXPECT_EQ(ComputeMean(1, 3'000'000).decimal, "0.000000333333");
  // 0.99999966...: rounding carries into the integer part.
  EXPECT_EQ(ComputeMean(2'999'999, 3'000'000).decimal, "1.000000");
}

TEST(ReductionTest, ComputeMean_HugeValues_StayExact) {
  // 2^-63: a power-of-two count terminates, after 63 places.
  EXPECT_EQ(ComputeMean(1, uint64_t{1} << 63).decimal,
            "0.000000000000000000108420217248550443400745280086994171142578125");
  // The smallest int128 does not overflow when its magnitude is taken.
  EXPECT_EQ(ComputeMean(absl::Int128Min(), 1).decimal, FormatInt128(absl::Int128Min()));
  EXPECT_EQ(ComputeMean(absl::Int128Min(), 2).decimal, FormatInt128(absl::Int128Min() / 2));
  const absl::int128 big = absl::MakeInt128(1, 0);  // 2^64
  EXPECT_EQ(ComputeMean(big + 1, 3).fraction, "18446744073709551617/3");
  EXPECT_EQ(ComputeMean(big + 1, 3).decimal, "6148914691236517205.666667");
}

TEST(ReductionTest, ReductionValue_EachReductionOfTheSummary) {
  const MapSummary summary = SquaresOneToTen();
  EXPECT_EQ(ReductionValue(Reduction::kSum, summary), "385");
  EXPECT_EQ(ReductionValue(Reduction::kMin, summary), "1");
  EXPECT_EQ(ReductionValue(Reduction::kMax, summary), "100");
  EXPECT_EQ(ReductionValue(Reduction::kCount, summary), "10");
  EXPECT_EQ(ReductionValue(Reduction::kMean, summary), "38.5");
  MapSummary thirds = summary;
  thirds.sum = 8;
  thirds.count = 3;
  EXPECT_EQ(ReductionValue(Reduction::kMean, thirds), "8/3");
}

TEST(CliOutputTest, ReductionLine_Sum_IsByteIdenticalToSumLine) {
  MapSummary summary = SquaresOneToTen();
  summary.sum = 41679167500;
  EXPECT_EQ(ReductionLine(Reduction::kSum, "square", Input::Range(1, 5000), summary),
            SumLine("square", Input::Range(1, 5000), 41679167500));
  EXPECT_EQ(ReductionLine(Reduction::kSum, "square", Input::Range(1, 5000), summary),
            "The sum of the square of the first 5000 integers is 41679167500");
}

TEST(CliOutputTest, ReductionLine_OtherReductions_FollowTheSumWording) {
  const MapSummary summary = SquaresOneToTen();
  const Input input = Input::Range(1, 10);
  EXPECT_EQ(ReductionLine(Reduction::kMin, "square", input, summary),
            "The minimum of the square of the first 10 integers is 1");
  EXPECT_EQ(ReductionLine(Reduction::kMax, "square", input, summary),
            "The maximum of the square of the first 10 integers is 100");
  EXPECT_EQ(ReductionLine(Reduction::kCount, "square", input, summary),
            "The count of the square of the first 10 integers is 10");
  EXPECT_EQ(ReductionLine(Reduction::kMean, "square", input, summary),
            "The mean of the square of the first 10 integers is 38.5");
}

TEST(CliOutputTest, ReductionLine_NonTerminatingMean_FractionAndRoundedDecimal) {
  MapSummary summary;
  summary.sum = 8;
  summary.count = 3;
  EXPECT_EQ(ReductionLine(Reduction::kMean, "identity", Input::List({3, -7, 12}), summary),
            "The mean of the identity of the 3 given integers is 8/3 (about 2.666667)");
}

// ---- JSON -------------------------------------------------------------------------------

TEST(JsonTest, JsonString_QuotesAndBackslashes_AreEscaped) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString(""), R"("")");
}

TEST(JsonTest, JsonString_ControlCharacters_AreEscaped) {
  EXPECT_EQ(JsonString("a\nb\tc\r"), R"("a\nb\tc\r")");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(JsonString(std::string("a\0b", 3)), R"("a\u0000b")");
}

TEST(JsonTest, JsonString_EveryAsciiCharacter_ParsesBackUnchanged) {
  std::string all;
  for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
  const Json parsed = Parse(JsonString(all));
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed.get<std::string>(), all);
}

TEST(JsonTest, JsonString_ValidUtf8_PassesThrough) {
  const std::string text = "h\xC3\xA9t\xE6\xBC\xA2\xF0\x9F\x98\x80";  // é, 漢, an emoji
  EXPECT_EQ(JsonString(text), "\"" + text + "\"");
  EXPECT_EQ(Parse(JsonString(text)).get<std::string>(), text);
}

TEST(JsonTest, JsonString_InvalidUtf8_BecomesReplacementCharacter) {
  EXPECT_EQ(JsonString("a\xFF"), R"("a\ufffd")");
  EXPECT_EQ(JsonString("\xC3"), R"("\ufffd")");              // truncated sequence
  EXPECT_EQ(JsonString("\xC0\xAF"), R"("\ufffd\ufffd")");    // overlong '/'
  EXPECT_EQ(JsonString("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");  // a UTF-16 surrogate
  EXPECT_FALSE(Parse(JsonString("x\xFE\xC3(")).is_discarded());
}

TEST(JsonTest, JsonObject_Build_KeepsOrderAndNests) {
  const std::string text = JsonObject()
                               .String("name", "w\"1")
                               .Int("pid", -5)
                               .Uint("big", UINT64_MAX)
                               .Bool("ok", true)
                               .Raw("list", JsonArray({"1", JsonString("x")}))
                               .Raw("empty", JsonArray({}))
                               .Build();
  EXPECT_EQ(text,
            R"({"name":"w\"1","pid":-5,"big":18446744073709551615,"ok":true,"list":[1,"x"],)"
            R"("empty":[]})");
  EXPECT_FALSE(Parse(text).is_discarded());
}

TEST(CliOutputTest, StatsLine_SaysHowManyValuesCameThroughSharedMemory) {
  MapSummary summary = SquaresOneToTen();
  EXPECT_THAT(StatsLine(summary), Not(HasSubstr("shared memory")));
  summary.values_shared = 6;
  EXPECT_THAT(StatsLine(summary),
              HasSubstr("duplicates dropped; 6 values through shared memory"));
}

TEST(CliOutputTest, StatsLine_CountsOfOne_AreSingular) {
  MapSummary summary = SquaresOneToTen();
  summary.job.num_chunks = 1;
  summary.chunks_by_worker.resize(1);
  summary.stats.workers_lost = 1;
  summary.stats.backups = 1;
  summary.stats.duplicates_dropped = 1;
  EXPECT_EQ(StatsLine(summary),
            "job-4: 1 chunk on 1 worker; 1 retry, 1 worker lost, 1 backup, 1 duplicate dropped");
}

TEST(CliOutputTest, StatsLine_OtherCounts_ArePlural) {
  MapSummary summary = SquaresOneToTen();
  summary.stats.retries = 0;
  summary.stats.workers_lost = 2;
  EXPECT_EQ(StatsLine(summary), "job-4: 2 chunks on 2 workers; 0 retries, 2 workers lost, "
                                "0 backups, 0 duplicates dropped");
}

TEST(CliOutputTest, StatsLine_Verified_SaysChunksVerifiedAndMismatches) {
  MapSummary summary = SquaresOneToTen();
  EXPECT_THAT(StatsLine(summary), Not(HasSubstr("verified")));
  summary.stats.chunks_verified = 2;
  summary.stats.verification_mismatches = 1;
  EXPECT_THAT(StatsLine(summary), HasSubstr("dropped; 2 chunks verified, 1 mismatch"));
}

TEST(CliOutputTest, MapJson_Sum_OneObjectWithResultStatsAndWorkers) {
  const std::string text = MapJson(MapSpec{"square", Input::Range(1, 10)}, Reduction::kSum,
                                   SquaresOneToTen(), absl::Milliseconds(42), nullptr);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const Json json = Parse(text);
  ASSERT_FALSE(json.is_discarded()) << text;
  EXPECT_EQ(json.at("function"), "square");
  EXPECT_EQ(json.at("input").at("range"), Json::array({"1", "10"}));
  EXPECT_EQ(json.at("reduce"), "sum");
  EXPECT_EQ(json.at("result"), "385");
  EXPECT_EQ(json.at("count"), 10);
  EXPECT_EQ(json.at("values_shared"), 0);
  EXPECT_EQ(json.at("job_id"), "job-4");
  EXPECT_EQ(json.at("chunks"), 2);
  EXPECT_EQ(json.at("chunk_size"), 5);
  EXPECT_EQ(json.at("cluster_slots"), 2);
  EXPECT_EQ(json.at("elapsed_ms"), 42);
  ASSERT_EQ(json.at("workers").size(), 2u);
  EXPECT_EQ(json.at("workers")[1],
            Json({{"id", "w2"}, {"host", "node-b"}, {"pid", 102}, {"chunks", 1}}));
  EXPECT_EQ(json.at("stats"), Json({{"retries", 1},
                                    {"workers_lost", 0},
                                    {"backups", 0},
                                    {"duplicates_dropped", 0},
                                    {"chunks_verified", 0},
                                    {"verification_mismatches", 0}}));
  EXPECT_FALSE(json.contains("values"));
  EXPECT_FALSE(json.contains("fraction"));
}

TEST(CliOutputTest, MapJson_MeanListAndValues_ExactStrings) {
  MapSummary summary = SquaresOneToTen();
  summary.sum = 8;
  summary.count = 3;
  const Elements values = Elements::Int64s({3, -7, INT64_MAX});
  const Json json = Parse(MapJson(MapSpec{"identity", Input::List({3, -7, 12})}, Reduction::kMean,
                                  summary, absl::ZeroDuration(), &values));
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json.at("input"), Json({{"count", 3}}));
  EXPECT_EQ(json.at("reduce"), "mean");
  EXPECT_EQ(json.at("result"), "8/3");
  EXPECT_EQ(json.at("fraction"), "8/3");
  EXPECT_EQ(json.at("decimal"), "2.666667");
  EXPECT_EQ(json.at("decimal_is_exact"), false);
  // Values beyond 2^53 stay exact as strings.
  EXPECT_EQ(json.at("values"), Json::array({"3", "-7", "9223372036854775807"}));
}

TEST(CliOutputTest, MapJson_SumBeyondSixtyFourBits_IsExactString) {
  MapSummary summary = SquaresOneToTen();
  summary.sum = absl::MakeInt128(3, 7);
  const Json json = Parse(MapJson(MapSpec{"square", Input::Range(-5, 5)}, Reduction::kSum,
                                  summary, absl::ZeroDuration(), nullptr));
  EXPECT_EQ(json.at("result"), "55340232221128654855");
  EXPECT_EQ(json.at("input").at("range"), Json::array({"-5", "5"}));
}

TEST(CliOutputTest, MapJson_HostileHostName_StaysValidJson) {
  MapSummary summary = SquaresOneToTen();
  summary.chunks_by_worker = {{WorkerIdentity{"w\"1", "a\nb\xFF", 7}, 2}};
  const Json json = Parse(MapJson(MapSpec{"square", Input::Range(1, 10)}, Reduction::kSum,
                                  summary, absl::ZeroDuration(), nullptr));
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json.at("workers")[0].at("id"), "w\"1");
  EXPECT_EQ(json.at("workers")[0].at("host"), "a\nb\xEF\xBF\xBD");  // U+FFFD
}

// ---- gpool status -----------------------------------------------------------------------

ClusterInfo BusyCluster() {
  ClusterInfo view;
  view.total_slots = 3;
  WorkerInfo a;
  a.ref = WorkerIdentity{"w1", "node-a", 4242};
  a.address = "10.0.0.1:5000";
  a.slots = 2;
  a.functions = {"cube", "square"};
  a.chunks_in_flight = 2;
  a.chunks_done = 17;
  a.faults = 1;
  a.heartbeat_age = absl::Milliseconds(300);
  a.heartbeat_interval = absl::Milliseconds(2500);
  a.lease_timeout = absl::Seconds(15);
  WorkerInfo b;
  b.ref = WorkerIdentity{"w2", "node-b", 7};
  b.address = "10.0.0.2:5000";
  b.slots = 1;
  b.functions = {"square"};
  b.chunks_in_flight = 0;
  b.chunks_done = 3;
  b.heartbeat_age = absl::Seconds(12);
  view.workers = {a, b};
  JobInfo job;
  job.job_id = "job-9";
  job.function = "square";
  job.total_elements = 1'000'000;
  job.num_chunks = 400;
  job.chunks_done = 20;
  job.elapsed = absl::Seconds(75);
  job.stats.retries = 2;
  view.jobs = {job};
  return view;
}

TEST(CliOutputTest, StatusReport_WorkersAndJob_EveryColumn) {
  EXPECT_EQ(StatusReport("127.0.0.1:50051", BusyCluster()),
            "Coordinator 127.0.0.1:50051: 2 workers, 3 slots, 1 running job\n"
            "\n"
            "WORKER  HOST    PID   SLOTS  FUNCTIONS    IN-FLIGHT  DONE  FAULTS  HEARTBEAT\n"
            "w1      node-a  4242  2      cube,square  2          17    1       0.3s ago\n"
            "w2      node-b  7     1      square       0          3     0       12s ago\n"
            "\n"
            "JOB    FUNCTION  ELEMENTS  PROGRESS            ELAPSED  RETRIES\n"
            "job-9  square    1000000   20/400 chunks 5.0%  1m15s    2\n");
}

TEST(CliOutputTest, StatusReport_QuarantinedWorker_SaysSoWithTheReason) {
  ClusterInfo view = BusyCluster();
  view.workers[1].quarantined = true;
  view.workers[1].quarantine_reason = "its result for chunk 3 of job-9 differed";
  EXPECT_THAT(StatusReport("h:1", view),
              HasSubstr("12s ago\nWorker w2 is QUARANTINED (gets no chunks): its result for "
                        "chunk 3 of job-9 differed\n"));
}

TEST(CliOutputTest, StatusReport_WorkersOmitted_CountsThemAndSaysHowMany) {
  ClusterInfo view = BusyCluster();
  view.workers_omitted = 5;
  const std::string report = StatusReport("h:1", view);
  EXPECT_THAT(report, HasSubstr("Coordinator h:1: 7 workers, 3 slots"));
  EXPECT_THAT(report, HasSubstr("12s ago\n... and 5 more workers not listed\n"));
}

TEST(CliOutputTest, StatusReport_EmptyCluster_SaysSo) {
  EXPECT_EQ(StatusReport("h:1", ClusterInfo{}),
            "Coordinator h:1: 0 workers, 0 slots, 0 running jobs\n"
            "\n"
            "No workers are registered.\n"
            "\n"
            "No jobs are running.\n");
}

TEST(CliOutputTest, StatusJson_ParsesWithEveryField) {
  const std::string text = StatusJson("127.0.0.1:50051", BusyCluster());
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const Json json = Parse(text);
  ASSERT_FALSE(json.is_discarded()) << text;
  EXPECT_EQ(json.at("coordinator"), "127.0.0.1:50051");
  EXPECT_EQ(json.at("total_slots"), 3);
  ASSERT_EQ(json.at("workers").size(), 2u);
  EXPECT_EQ(json.at("workers")[0], Json({{"id", "w1"},
                                         {"host", "node-a"},
                                         {"pid", 4242},
                                         {"address", "10.0.0.1:5000"},
                                         {"slots", 2},
                                         {"functions", {"cube", "square"}},
                      {"function_types", {"cube(int64) -> int64", "square(int64) -> int64"}},
                                         {"chunks_in_flight", 2},
                                         {"chunks_done", 17},
                                         {"faults", 1},
                                         {"quarantined", false},
                                         {"quarantine_reason", ""},
                                         {"heartbeat_age_ms", 300},
                                         {"heartbeat_interval_ms", 2500},
                                         {"lease_timeout_ms", 15000}}));
  ASSERT_EQ(json.at("jobs").size(), 1u);
  const Json& job = json.at("jobs")[0];
  EXPECT_EQ(job.at("id"), "job-9");
  EXPECT_EQ(job.at("function"), "square");
  EXPECT_EQ(job.at("total_elements"), 1000000);
  EXPECT_EQ(job.at("num_chunks"), 400);
  EXPECT_EQ(job.at("chunks_done"), 20);
  EXPECT_EQ(job.at("elapsed_ms"), 75000);
  EXPECT_EQ(job.at("stats").at("retries"), 2);
}

TEST(CliOutputTest, StatusJson_EmptyCluster_EmptyArrays) {
  const Json json = Parse(StatusJson("h:1", ClusterInfo{}));
  EXPECT_EQ(json.at("workers"), Json::array());
  EXPECT_EQ(json.at("workers_omitted"), 0);
  EXPECT_EQ(json.at("jobs"), Json::array());
}

TEST(CliOutputTest, StatusJson_WorkersOmitted_CountsThem) {
  ClusterInfo view = BusyCluster();
  view.workers_omitted = 5;
  const Json json = Parse(StatusJson("h:1", view));
  EXPECT_EQ(json.at("workers").size(), 2u);
  EXPECT_EQ(json.at("workers_omitted"), 5);
}

TEST(CliOutputTest, CompactDuration_ScalesUnits) {
  EXPECT_EQ(CompactDuration(absl::ZeroDuration()), "0.0s");
  EXPECT_EQ(CompactDuration(absl::Milliseconds(9999)), "9.9s");
  EXPECT_EQ(CompactDuration(absl::Seconds(42)), "42s");
  EXPECT_EQ(CompactDuration(absl::Seconds(187)), "3m07s");
  EXPECT_EQ(CompactDuration(absl::Minutes(125)), "2h05m");
  EXPECT_EQ(CompactDuration(absl::Seconds(-1)), "0.0s");
}

TEST(CliOutputTest, PercentText_RoundsDown) {
  EXPECT_EQ(PercentText(0, 0), "0.0%");
  EXPECT_EQ(PercentText(1, 3), "33.3%");
  EXPECT_EQ(PercentText(9999, 10000), "99.9%");
  EXPECT_EQ(PercentText(10, 10), "100.0%");
  EXPECT_EQ(PercentText(UINT64_MAX - 1, UINT64_MAX), "99.9%");
}

// ---- The progress bar -------------------------------------------------------------------

TEST(ProgressTest, ProgressLine_HalfDone_BarPercentCountsRateEtaWorkers) {
  const std::string line =
      ProgressLine(ProgressSnapshot{500, 1000, 2, absl::Seconds(1)}, /*width=*/100);
  EXPECT_EQ(line,
            "[###################....................]  50.0%  500/1000 elements     500/s  "
            "ETA 1.0s    2 workers");
}

TEST(ProgressTest, ProgressLine_NothingDoneYet_EtaUnknown) {
  EXPECT_THAT(ProgressLine(ProgressSnapshot{0, 1000, 0, absl::ZeroDuration()}, 100),
              HasSubstr("   0.0%    0/1000 elements       0/s  ETA ?       0 workers"));
}

TEST(ProgressTest, ProgressLine_AllDone_FullBar) {
  const std::string line = ProgressLine(ProgressSnapshot{10, 10, 1, absl::Seconds(2)}, 60);
  EXPECT_THAT(line, HasSubstr("100.0% 10/10 elements       5/s  ETA 0s      1 worker"));
  EXPECT_THAT(line, Not(HasSubstr(".]")));
}

TEST(ProgressTest, ProgressLine_AlmostDone_NotYetHundredPercent) {
  EXPECT_THAT(ProgressLine(ProgressSnapshot{999, 1000, 1, absl::Seconds(1)}, 100),
              HasSubstr(" 99.9%"));
}

TEST(ProgressTest, ProgressLine_FitsTheWidth) {
  const ProgressSnapshot snapshot{123456, 1000000, 12, absl::Seconds(3)};
  for (int width : {0, 20, 40, 79, 200}) {
    EXPECT_LE(ProgressLine(snapshot, width).size(), static_cast<size_t>(width)) << width;
  }
  EXPECT_THAT(ProgressLine(snapshot, 40), Not(HasSubstr("[")));  // too narrow for a bar
  // However wide the terminal, the bar stays at most 40 cells.
  EXPECT_THAT(ProgressLine(snapshot, 200), HasSubstr(absl::StrCat("[", std::string(4, '#'),
                                                                  std::string(36, '.'), "]")));
}

TEST(ProgressTest, FormatRate_Units) {
  EXPECT_EQ(FormatRate(0), "0/s");
  EXPECT_EQ(FormatRate(850), "850/s");
  EXPECT_EQ(FormatRate(12'345), "12.3k/s");
  EXPECT_EQ(FormatRate(1'250'000), "1.2M/s");
  EXPECT_EQ(FormatRate(4e9), "4.0G/s");
}

ChunkResult Chunk(uint64_t elements, const std::string& worker_id) {
  ChunkResult chunk;
  chunk.element_count = elements;
  chunk.worker.worker_id = worker_id;
  return chunk;
}

TEST(ProgressTest, ProgressBar_Start_DrawsAtOnceInPlace) {
  std::ostringstream out;
  ProgressBar bar(out, 80);
  bar.Start(100, absl::UnixEpoch());
  EXPECT_TRUE(bar.shown());
  EXPECT_EQ(out.str().front(), '\r');
  EXPECT_THAT(out.str(), HasSubstr("0/100 elements"));
  EXPECT_EQ(out.str().substr(out.str().size() - 3), "\033[K");
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  EXPECT_LE(out.str().size() - 4, 79u);  // leaves the last column free
}

TEST(ProgressTest, ProgressBar_ManyChunks_RedrawsAtMostOncePerInterval) {
  std::ostringstream out;
  ProgressBar bar(out, 80, absl::Milliseconds(100));
  const absl::Time t0 = absl::UnixEpoch();
  bar.Start(1000, t0);
  for (int i = 1; i <= 99; ++i) bar.AddChunk(Chunk(10, "w1"), t0 + absl::Milliseconds(i));
  EXPECT_EQ(Count(out.str(), "\r"), 1u);  // only the start
  bar.AddChunk(Chunk(10, "w2"), t0 + absl::Milliseconds(100));
  EXPECT_EQ(Count(out.str(), "\r"), 2u);
  EXPECT_THAT(out.str(), HasSubstr("1000/1000 elements"));
  EXPECT_THAT(out.str(), HasSubstr("2 workers"));
}

TEST(ProgressTest, ProgressBar_Clear_ErasesOnlyWhatIsShown) {
  std::ostringstream out;
  ProgressBar bar(out, 80);
  bar.Clear();
  EXPECT_EQ(out.str(), "");  // nothing drawn, nothing to erase
  bar.Start(10, absl::UnixEpoch());
  out.str("");
  bar.Clear();
  EXPECT_EQ(out.str(), "\r\033[K");
  EXPECT_FALSE(bar.shown());
  bar.Clear();
  EXPECT_EQ(out.str(), "\r\033[K");
}

TEST(ProgressTest, ProgressBar_Snapshot_CountsElementsAndDistinctWorkers) {
  std::ostringstream out;
  ProgressBar bar(out, 80);
  const absl::Time t0 = absl::UnixEpoch();
  bar.Start(100, t0);
  bar.AddChunk(Chunk(10, "w1"), t0 + absl::Seconds(1));
  bar.AddChunk(Chunk(10, "w1"), t0 + absl::Seconds(1));
  bar.AddChunk(Chunk(5, "w2"), t0 + absl::Seconds(1));
  const ProgressSnapshot snapshot = bar.Snapshot(t0 + absl::Seconds(2));
  EXPECT_EQ(snapshot.elements_done, 25u);
  EXPECT_EQ(snapshot.total_elements, 100u);
  EXPECT_EQ(snapshot.workers, 2);
  EXPECT_EQ(snapshot.elapsed, absl::Seconds(2));
}

}  // namespace
}  // namespace gpool
