// Typed elements (issue 19) through a real cluster on loopback, by the CLI and by the C++
// library: int64, double, string and bytes in and out; --print and --json formats; type
// mismatches; the element and message limits; and the exact double sum, checked against
// Python's math.fsum (computed by /usr/bin/python3 in each test, never hard-coded).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "client/input_source.h"
#include "client/local_cluster.h"
#include "common/elements.h"
#include "common/input.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/transport.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/extra_worker.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
#include "tests/support/wire_signature.h"

namespace gpool {
namespace {

using ::gpool::testing::CliRun;
using ::gpool::testing::ExtraWorker;
using ::gpool::testing::RunCli;
using ::gpool::testing::RunProgram;
using ::gpool::testing::StartExtraWorker;
using ::gpool::testing::StatusIs;
using ::gpool::testing::StopExtraWorker;
using ::gpool::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kTypedWorker[] = GPOOL_TYPED_WORKER;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// What `script` printed, run by Python 3 with `args` as sys.argv[1:] (in UTF-8 mode, so that
// its text is UTF-8 whatever the locale).
std::string Python(const std::string& script, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {kPython, "-X", "utf8", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  const CliRun run = RunProgram(argv);
  EXPECT_EQ(run.exit_code, 0) << "python3: " << run.err;
  return run.out;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  ASSERT_TRUE(out.good()) << path;
}

// Lines of `path` as doubles (the files here hold Python's repr() of each).
std::vector<double> ReadDoubles(const std::string& path) {
  std::vector<double> values;
  for (const std::string& line : Lines(testing::ReadFile(path))) {
    values.push_back(std::strtod(line.c_str(), nullptr));
  }
  return values;
}

// The values `gpool map --print` printed: every line between the first (the cluster's cores)
// and the last (the result sentence).
std::vector<std::string> PrintedValues(const CliRun& run) {
  std::vector<std::string> lines = Lines(run.out);
  if (lines.size() < 2) return {};
  return std::vector<std::string>(lines.begin() + 1, lines.end() - 1);
}

std::string LowercaseHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

// sha256sum's digest of the file at `path` (the first word it prints).
std::string Sha256sum(const std::string& path) {
  const CliRun run = RunProgram({"/usr/bin/sha256sum", path});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.out.substr(0, run.out.find(' '));
}

nlohmann::json ParseJson(const CliRun& run) {
  nlohmann::json json = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << run.out;
  return json;
}

std::vector<std::string> JsonValues(const nlohmann::json& json) {
  std::vector<std::string> values;
  if (!json.contains("values")) return values;
  for (const nlohmann::json& value : json["values"]) values.push_back(value.get<std::string>());
  return values;
}

// Strings beyond ASCII in each of the four blocks upper() maps as Python does (Latin-1,
// Latin Extended-A, Greek, Cyrillic), with ß -> SS and µ -> Greek Μ, and text without case.
const std::vector<std::string>& SampleStrings() {
  static const auto* strings = new std::vector<std::string>{
      "hello, world", "straße", "ñandú ÿ µ", "ŀ ő ŝ", "Ελληνικά ς",
      "кириллица", "日本語 😀", "Mixed Case 123", "say \"hi\"\\\tnow"};
  return *strings;
}

class TypedElementsTest : public testing::LocalClusterTest {
 protected:
  void StartWithClient(int workers) {
    StartCluster(workers);
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(cluster_->address()));
  }

  // Writes SampleStrings() one per line, and Python's `expression` of each (s) one per line.
  std::pair<std::string, std::vector<std::string>> StringsAndPython(const std::string& expression) {
    const std::string path = dir_.path() + "/strings.txt";
    WriteFile(path, absl::StrJoin(SampleStrings(), "\n") + "\n");
    return {path, Lines(Python(absl::StrCat("import sys\nfor s in open(sys.argv[1], encoding="
                                            "'utf-8').read().split('\\n')[:-1]: print(",
                                            expression, ")"),
                               {path}))};
  }

  TempDir dir_;
  std::unique_ptr<Client> client_;
};

TEST_F(TypedElementsTest, Int64Square_CliAndLibrary_SquaresInInputOrder) {
  StartWithClient(2);
  const CliRun run =
      RunCli(WithCoordinator({"map", "square", "--values", "-3,0,7,3037000499", "--print"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(PrintedValues(run), ElementsAreArray({"9", "0", "49", "9223372030926249001"}));

  MapSpec spec;
  spec.function = "square";
  spec.input = Input::List(Elements::Int64s({-3, 0, 7}));
  ASSERT_OK_AND_ASSIGN(MapResult result, client_->Map(spec));
  EXPECT_EQ(result.values, Elements::Int64s({9, 0, 49}));
  EXPECT_EQ(result.summary.job.output_type, ElementType::kInt64);
  EXPECT_EQ(result.summary.sum, 58);
}

TEST_F(TypedElementsTest, SqrtOverRange_CliAndLibrary_SumIsMathFsum) {
  StartWithClient(2);
  const std::string fsum = Lines(Python(
      "import math\nprint(repr(math.fsum(math.sqrt(x) for x in range(1, 1000001))))"))[0];

  const CliRun run = RunCli(WithCoordinator({"map", "sqrt", "1..1000000", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json json = ParseJson(run);
  EXPECT_EQ(json.value("result", ""), fsum);
  EXPECT_EQ(json.value("output_type", ""), "double");

  MapSpec spec;
  spec.function = "sqrt";
  spec.input = Input::Range(1, 1'000'000);
  ASSERT_OK_AND_ASSIGN(MapSummary summary,
                       client_->MapStreaming(spec, /*want_values=*/false, nullptr, nullptr));
  EXPECT_EQ(summary.job.output_type, ElementType::kDouble);
  EXPECT_EQ(summary.count, 1'000'000u);
  EXPECT_EQ(summary.doubles.sum.Round(), std::strtod(fsum.c_str(), nullptr));
}

TEST_F(TypedElementsTest, SqrtOverDoubleList_CliAndLibrary_ValuesAsPythonAndSumIsMathFsum) {
  StartWithClient(2);
  const std::string path = dir_.path() + "/doubles.txt";
  // 1000 doubles over the whole exponent range (zero and a subnormal included), written as
  // repr(); prints repr(math.sqrt(x)) of each, then repr() of their math.fsum.
  const std::vector<std::string> expected = Lines(Python(R"(
import math, random, sys
r = random.Random(19)
xs = [0.0, 1e-320, 2.0] + [r.random() * 10.0 ** r.randint(-300, 300) for _ in range(997)]
open(sys.argv[1], 'w').write(''.join(repr(x) + '\n' for x in xs))
roots = [math.sqrt(x) for x in xs]
for y in roots: print(repr(y))
print(repr(math.fsum(roots)))
)",
                                                           {path}));
  ASSERT_EQ(expected.size(), 1001u);
  const std::vector<std::string> roots(expected.begin(), expected.end() - 1);
  const std::string fsum = expected.back();

  const CliRun printed = RunCli(
      WithCoordinator({"map", "sqrt", "--input", path, "--type", "double", "--print"}));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(PrintedValues(printed), ElementsAreArray(roots));
  const CliRun summed =
      RunCli(WithCoordinator({"map", "sqrt", "--input", path, "--type", "double", "--json"}));
  ASSERT_EQ(summed.exit_code, 0) << summed.err;
  EXPECT_EQ(ParseJson(summed).value("result", ""), fsum);

  MapSpec spec;
  spec.function = "sqrt";
  spec.input = Input::List(Elements::Doubles(ReadDoubles(path)));
  spec.chunk_size = 64;
  ASSERT_OK_AND_ASSIGN(MapResult result, client_->Map(spec));
  ASSERT_EQ(result.values.type(), ElementType::kDouble);
  ASSERT_EQ(result.values.size(), roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    EXPECT_EQ(result.values.doubles()[i], std::strtod(roots[i].c_str(), nullptr)) << i;
  }
  EXPECT_EQ(result.summary.doubles.sum.Round(), std::strtod(fsum.c_str(), nullptr));
}

TEST_F(TypedElementsTest, PrintDoubles_SpecialValues_PythonRepr) {
  StartCluster(1);
  const std::string path = dir_.path() + "/special.txt";
  WriteFile(path, "nan\ninf\n0.01\n4\n1e-320\n");
  const CliRun run =
      RunCli(WithCoordinator({"map", "sqrt", "--input", path, "--type", "double", "--print"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Python: repr(math.sqrt(0.01)) == '0.1', repr(math.sqrt(1e-320)) == '9.99994433575849e-161';
  // math.sqrt(nan) and math.sqrt(inf) are repr()'d 'nan' and 'inf'.
  EXPECT_THAT(PrintedValues(run),
              ElementsAreArray({"nan", "inf", "0.1", "2.0", "9.99994433575849e-161"}));
}

TEST_F(TypedElementsTest, UpperAndLength_NonAsciiStrings_AsPythonStrUpperAndLen) {
  StartWithClient(2);
  const auto [path, uppers] = StringsAndPython("s.upper()");
  const std::vector<std::string> lengths = Lines(Python(
      "import sys\nfor s in open(sys.argv[1], encoding='utf-8').read().split('\\n')[:-1]: "
      "print(len(s))",
      {path}));
  ASSERT_EQ(uppers.size(), SampleStrings().size());

  const CliRun upper = RunCli(
      WithCoordinator({"map", "upper", "--input", path, "--type", "string", "--print"}));
  ASSERT_EQ(upper.exit_code, 0) << upper.err;
  EXPECT_THAT(PrintedValues(upper), ElementsAreArray(uppers));
  const CliRun length = RunCli(
      WithCoordinator({"map", "length", "--input", path, "--type", "string", "--print"}));
  ASSERT_EQ(length.exit_code, 0) << length.err;
  EXPECT_THAT(PrintedValues(length), ElementsAreArray(lengths));

  MapSpec spec;
  spec.function = "upper";
  spec.input = Input::List(Elements::Strings(SampleStrings()));
  spec.chunk_size = 2;
  ASSERT_OK_AND_ASSIGN(MapResult upper_result, client_->Map(spec));
  EXPECT_EQ(upper_result.values.type(), ElementType::kString);
  EXPECT_THAT(upper_result.values.texts(), ElementsAreArray(uppers));
  spec.function = "length";
  ASSERT_OK_AND_ASSIGN(MapResult length_result, client_->Map(spec));
  std::vector<std::string> library_lengths;
  for (int64_t n : length_result.values.int64s()) library_lengths.push_back(absl::StrCat(n));
  EXPECT_THAT(library_lengths, ElementsAreArray(lengths));
}

TEST_F(TypedElementsTest, Sha256_BytesOfFiles_LowercaseHexAsSha256sum) {
  StartWithClient(2);
  std::string binary;
  for (int i = 0; i < 200 * 1024; ++i) binary.push_back(static_cast<char>((i * 131) & 255));
  const std::vector<std::string> contents = {"", "abc", "two\nlines\n", binary};
  std::vector<std::string> paths;
  std::vector<std::string> digests;
  for (size_t i = 0; i < contents.size(); ++i) {
    paths.push_back(absl::StrCat(dir_.path(), "/file", i));
    WriteFile(paths.back(), contents[i]);
    digests.push_back(Sha256sum(paths.back()));
  }
  const std::string list = dir_.path() + "/files.txt";
  WriteFile(list, absl::StrJoin(paths, "\n") + "\n");

  const CliRun run =
      RunCli(WithCoordinator({"map", "sha256", "--input", list, "--type", "bytes", "--print"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(PrintedValues(run), ElementsAreArray(digests));

  MapSpec spec;
  spec.function = "sha256";
  spec.input = Input::List(Elements::Blobs(contents));
  ASSERT_OK_AND_ASSIGN(MapResult result, client_->Map(spec));
  ASSERT_EQ(result.values.type(), ElementType::kBytes);
  std::vector<std::string> hex;
  for (const std::string& digest : result.values.texts()) hex.push_back(LowercaseHex(digest));
  EXPECT_THAT(hex, ElementsAreArray(digests));
}

TEST_F(TypedElementsTest, Json_EveryType_CarriesTheValuesLosslessly) {
  StartCluster(2);
  // int64 beyond 2^53, which a JSON number read as a double would change.
  const CliRun ints = RunCli(
      WithCoordinator({"map", "square", "--values", "3037000499", "--json", "--print"}));
  ASSERT_EQ(ints.exit_code, 0) << ints.err;
  EXPECT_THAT(JsonValues(ParseJson(ints)), ElementsAreArray({"9223372030926249001"}));

  // Doubles needing all 17 digits: each reads back as the same double Python computes.
  const std::string doubles = dir_.path() + "/doubles.txt";
  const std::vector<std::string> roots = Lines(Python(R"(
import math, sys
xs = [2.0, 3.0, 1e300, 5e-324, 0.1]
open(sys.argv[1], 'w').write(''.join(repr(x) + '\n' for x in xs))
for x in xs: print(repr(math.sqrt(x)))
)",
                                                      {doubles}));
  const CliRun sqrt = RunCli(WithCoordinator(
      {"map", "sqrt", "--input", doubles, "--type", "double", "--json", "--print"}));
  ASSERT_EQ(sqrt.exit_code, 0) << sqrt.err;
  const std::vector<std::string> sqrt_values = JsonValues(ParseJson(sqrt));
  ASSERT_EQ(sqrt_values.size(), roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    EXPECT_EQ(std::strtod(sqrt_values[i].c_str(), nullptr), std::strtod(roots[i].c_str(), nullptr))
        << sqrt_values[i] << " vs Python's " << roots[i];
  }

  // Strings with quotes, a backslash, a tab and non-ASCII text come back as they are.
  const auto [strings, uppers] = StringsAndPython("s.upper()");
  const CliRun upper = RunCli(WithCoordinator(
      {"map", "upper", "--input", strings, "--type", "string", "--json", "--print"}));
  ASSERT_EQ(upper.exit_code, 0) << upper.err;
  EXPECT_THAT(JsonValues(ParseJson(upper)), ElementsAreArray(uppers));

  // Bytes as lowercase hex.
  const std::string file = dir_.path() + "/abc";
  WriteFile(file, "abc");
  const std::string list = dir_.path() + "/files.txt";
  WriteFile(list, file + "\n");
  const CliRun sha = RunCli(WithCoordinator(
      {"map", "sha256", "--input", list, "--type", "bytes", "--json", "--print"}));
  ASSERT_EQ(sha.exit_code, 0) << sha.err;
  EXPECT_THAT(JsonValues(ParseJson(sha)), ElementsAreArray({Sha256sum(file)}));
}

TEST_F(TypedElementsTest, TypeMismatch_UpperOfIntegers_ExitTwoNamingBothTypes) {
  StartCluster(1);
  const CliRun run = RunCli(WithCoordinator({"map", "upper", "1..10"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("upper"), HasSubstr("string"), HasSubstr("int64")));
}

TEST_F(TypedElementsTest, TypeMismatch_SqrtOfStrings_InvalidArgumentNamingBothTypes) {
  StartWithClient(1);
  const std::string path = dir_.path() + "/strings.txt";
  WriteFile(path, "4\n9\n");
  const CliRun run =
      RunCli(WithCoordinator({"map", "sqrt", "--input", path, "--type", "string"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("sqrt"), HasSubstr("double"), HasSubstr("string")));

  MapSpec spec;
  spec.function = "sqrt";
  spec.input = Input::List(Elements::Strings({"4", "9"}));
  EXPECT_THAT(client_->Map(spec).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("double"), HasSubstr("string"))));
}

TEST_F(TypedElementsTest, Limits_StringOverOneMiB_InvalidArgumentNamingTheLimit) {
  StartWithClient(1);
  const std::string path = dir_.path() + "/big.txt";
  WriteFile(path, std::string(kMaxElementBytes + 1, 'a') + "\n");
  const CliRun run =
      RunCli(WithCoordinator({"map", "upper", "--input", path, "--type", "string"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("1 MiB"));

  MapSpec spec;
  spec.function = "upper";
  spec.input = Input::List(Elements::Strings({"a", std::string(kMaxElementBytes + 1, 'a')}));
  EXPECT_THAT(client_->Map(spec).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 MiB")));
  // At the limit itself, it maps.
  spec.input = Input::List(Elements::Strings({std::string(kMaxElementBytes, 'a')}));
  ASSERT_OK_AND_ASSIGN(MapResult result, client_->Map(spec));
  EXPECT_EQ(result.values, Elements::Strings({std::string(kMaxElementBytes, 'A')}));
}

// 7.2 MiB of strings, so that one chunk of them all would pass the 4 MiB message limit: the
// chunks must be cut by bytes too. Each string is 900 KiB of lowercase ASCII and "é"; the
// second vector is Python's upper() of each ("é" -> "É" keeps each length).
std::pair<std::vector<std::string>, std::vector<std::string>> EightStringsOf900KiB() {
  std::vector<std::string> strings;
  std::vector<std::string> uppers;
  for (int i = 0; i < 8; ++i) {
    std::string text;
    std::string upper;
    while (text.size() < 900 * 1024) {
      const char letter = static_cast<char>('a' + (text.size() + i) % 26);
      text += letter;
      upper += static_cast<char>(letter - 'a' + 'A');
      text += "é";
      upper += "É";
    }
    strings.push_back(std::move(text));
    uppers.push_back(std::move(upper));
  }
  return {strings, uppers};
}

// A Map request holds at most 4 MiB of input, so 4 of the strings (3.6 MiB): as one chunk its
// call and its answer would pass 4 MiB with their framing.
TEST_F(TypedElementsTest, Limits_FourStringsOf900KiBByLibraryMap_ChunksCutByBytesAllMapped) {
  StartWithClient(2);
  auto [strings, uppers] = EightStringsOf900KiB();
  strings.resize(4);
  uppers.resize(4);
  for (int64_t chunk_size : {int64_t{0}, int64_t{4}}) {
    MapSpec spec;
    spec.function = "upper";
    spec.input = Input::List(Elements::Strings(strings));
    spec.chunk_size = chunk_size;
    absl::StatusOr<MapResult> result = client_->Map(spec);
    ASSERT_TRUE(result.ok()) << "chunk_size " << chunk_size << ": " << result.status();
    EXPECT_TRUE(result->values == Elements::Strings(uppers)) << "chunk_size " << chunk_size;
  }
}

// A stream's chunks are counted in elements (chunk i starts at i * chunk_size); left to gpool,
// the client sizes them by the input's first elements, so large strings go a few per chunk.
TEST_F(TypedElementsTest, Limits_EightStringsOf900KiBByLibraryStream_ChunksCutByBytesAllMapped) {
  StartWithClient(2);
  const auto [strings, uppers] = EightStringsOf900KiB();
  const std::string path = dir_.path() + "/large.txt";
  WriteFile(path, absl::StrJoin(strings, "\n") + "\n");
  for (int64_t chunk_size : {int64_t{0}, int64_t{1}}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<InputSource> source,
                         OpenElementFile(path, ElementType::kString));
    MapStreamSpec spec;
    spec.function = "upper";
    spec.chunk_size = chunk_size;
    std::vector<std::string> values(strings.size());
    absl::StatusOr<MapSummary> summary = client_->MapStream(
        spec, *source, /*want_values=*/true, nullptr, [&](const ChunkResult& chunk) {
          for (size_t i = 0; i < chunk.values.size(); ++i) {
            values.at(chunk.first_element + i) = chunk.values.texts()[i];
          }
        });
    ASSERT_TRUE(summary.ok()) << "chunk_size " << chunk_size << ": " << summary.status();
    EXPECT_EQ(summary->count, strings.size());
    EXPECT_TRUE(values == uppers) << "chunk_size " << chunk_size;
  }
}

TEST_F(TypedElementsTest, Limits_EightStringsOf900KiBByCliInputFile_ChunksCutByBytesAllPrinted) {
  StartCluster(2);
  const auto [strings, uppers] = EightStringsOf900KiB();
  const std::string path = dir_.path() + "/large.txt";
  WriteFile(path, absl::StrJoin(strings, "\n") + "\n");
  for (const std::vector<std::string>& chunking :
       std::vector<std::vector<std::string>>{{}, {"--chunksize", "3"}}) {
    std::vector<std::string> args = {"map",    "upper",  "--input", path,
                                     "--type", "string", "--print"};
    args.insert(args.end(), chunking.begin(), chunking.end());
    const CliRun run = RunCli(WithCoordinator(args));
    EXPECT_EQ(run.exit_code, 0) << absl::StrJoin(chunking, " ") << ": " << run.err;
    EXPECT_TRUE(PrintedValues(run) == uppers) << absl::StrJoin(chunking, " ");
  }
}

// A chunk size asked for that would put more than 3 MiB of input in one chunk of a stream
// cannot be cut (the stream numbers chunks by it): refused, saying what to do.
TEST_F(TypedElementsTest, Limits_StreamChunkSizeTooLargeForItsStrings_InvalidAskingForSmaller) {
  StartCluster(2);
  const auto [strings, uppers] = EightStringsOf900KiB();
  const std::string path = dir_.path() + "/large.txt";
  WriteFile(path, absl::StrJoin(strings, "\n") + "\n");
  const CliRun run = RunCli(WithCoordinator(
      {"map", "upper", "--input", path, "--type", "string", "--chunksize", "8"}));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr("smaller chunk_size"), HasSubstr("INVALID_ARGUMENT")));
}

TEST_F(TypedElementsTest, RegisterWorker_UpperWithOtherTypes_FailedPrecondition) {
  StartCluster(1);
  auto coordinator = v1::Coordinator::NewStub(CreateChannel(cluster_->address()));
  auto register_upper = [&](v1::ElementType input, v1::ElementType output) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::RegisterWorkerRequest request;
    request.set_address("127.0.0.1:1");
    request.set_pid(42);
    request.set_host("test-host");
    request.set_slots(1);
    request.set_max_chunks_per_call(1);
    ::gpool::testing::SetSignature(request.add_functions(), "upper", input, output);
    v1::RegisterWorkerResponse response;
    return coordinator->RegisterWorker(&context, request, &response);
  };
  const grpc::Status other =
      register_upper(v1::ELEMENT_TYPE_INT64, v1::ELEMENT_TYPE_INT64);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << other.error_message();
  EXPECT_THAT(other.error_message(), HasSubstr("upper"));
  // The same registration with the registered worker's types is taken: only the types differ.
  const grpc::Status same = register_upper(v1::ELEMENT_TYPE_STRING, v1::ELEMENT_TYPE_STRING);
  EXPECT_TRUE(same.ok()) << same.error_message();
}

// The double sum is math.fsum's, whatever the chunking: 10^6 values of both signs from the
// subnormals to 1e301, 700,000 of them pairs that cancel exactly, so that any float addition
// in the wrong order loses the rest.
TEST_F(TypedElementsTest, ExactDoubleSum_MillionMixedValues_EveryChunkSizeGivesMathFsum) {
  StartWithClient(1);
  std::vector<ExtraWorker> typed;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<ExtraWorker> worker =
        StartExtraWorker(kTypedWorker, cluster_->address(), *client_);
    ASSERT_TRUE(worker.ok()) << worker.status() << "; logs in " << cluster_->log_dir();
    typed.push_back(*worker);
  }
  const std::string path = dir_.path() + "/mixed.txt";
  const std::vector<std::string> sums = Lines(Python(R"(
import math, random, sys
r = random.Random(19)
xs = []
for _ in range(350000):
    big = r.uniform(1, 10) * 10.0 ** r.randint(15, 300)
    xs += [big, -big]
xs += [r.choice((-1, 1)) * r.uniform(1, 10) * 10.0 ** r.randint(-300, 14) for _ in range(299000)]
xs += [r.randint(-10**6, 10**6) * 5e-324 for _ in range(1000)]
r.shuffle(xs)
assert len(xs) == 10**6
open(sys.argv[1], 'w').write(''.join(repr(x) + '\n' for x in xs))
print(repr(math.fsum(xs)))
print(repr(sum(xs)))
)",
                                                     {path}));
  ASSERT_EQ(sums.size(), 2u);
  const std::string& fsum = sums[0];
  // The data tells an exact sum from a float one.
  ASSERT_NE(fsum, sums[1]);

  for (const std::vector<std::string>& chunking : std::vector<std::vector<std::string>>{
           {"--chunksize", "1000"}, {"--chunksize", "65536"}, {}}) {
    std::vector<std::string> args = {"map", "same", "--input", path, "--type", "double",
                                     "--json"};
    args.insert(args.end(), chunking.begin(), chunking.end());
    const CliRun run = RunCli(WithCoordinator(args));
    ASSERT_EQ(run.exit_code, 0) << absl::StrJoin(chunking, " ") << ": " << run.err;
    const nlohmann::json json = ParseJson(run);
    EXPECT_EQ(json.value("result", ""), fsum) << absl::StrJoin(chunking, " ");
    EXPECT_EQ(json.value("count", uint64_t{0}), 1'000'000u) << absl::StrJoin(chunking, " ");
  }
  // And the library's exact sum, of the same values in chunks of 4096.
  MapStreamSpec spec;
  spec.function = "same";
  spec.chunk_size = 4096;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InputSource> source,
                       OpenElementFile(path, ElementType::kDouble));
  ASSERT_OK_AND_ASSIGN(MapSummary summary, client_->MapStream(spec, *source, /*want_values=*/false,
                                                              nullptr, nullptr));
  EXPECT_EQ(summary.doubles.sum.Round(), std::strtod(fsum.c_str(), nullptr));
  for (const ExtraWorker& worker : typed) EXPECT_OK(StopExtraWorker(worker));
}

}  // namespace
}  // namespace gpool
