// W5's gRPC limit, server side: holds the strings of --input (one a line) and streams them
// back upper-cased on each Upper call, in `repeated string` batches, on loopback. Writes its
// port to --port_file once it listens; runs until SIGTERM/SIGINT (or an hour, so that it never
// lingers).
//
//   typed_stream_server --input=FILE --port_file=PATH
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "typed_stream.grpc.pb.h"

ABSL_FLAG(std::string, input, "", "The strings, one a line.");
ABSL_FLAG(std::string, port_file, "", "Where to write the port once listening.");

namespace gpool::bench {
namespace {

class TypedStreamService final : public typed::TypedStream::Service {
 public:
  explicit TypedStreamService(std::vector<std::string> strings) : strings_(std::move(strings)) {}

  grpc::Status Upper(grpc::ServerContext* context, const typed::UpperRequest* request,
                     grpc::ServerWriter<typed::StringBatch>* writer) override {
    const size_t batch = request->batch() > 0 ? static_cast<size_t>(request->batch()) : 4096;
    typed::StringBatch message;
    for (size_t first = 0; first < strings_.size() && !context->IsCancelled(); first += batch) {
      message.clear_values();
      const size_t last = std::min(strings_.size(), first + batch);
      for (size_t i = first; i < last; ++i) {
        std::string* value = message.add_values();
        *value = strings_[i];
        // ASCII only, without std::toupper's locale lookup per byte (which alone took most
        // of a call): the limit measures the transport, not a slow upper.
        for (char& c : *value) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
      }
      if (!writer->Write(message)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    }
    return grpc::Status::OK;
  }

 private:
  const std::vector<std::string> strings_;
};

int Main() {
  std::ifstream in(absl::GetFlag(FLAGS_input));
  if (!in) {
    std::fprintf(stderr, "typed_stream_server: cannot read --input\n");
    return 2;
  }
  std::vector<std::string> strings;
  for (std::string line; std::getline(in, line);) strings.push_back(std::move(line));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  TypedStreamService service(std::move(strings));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "typed_stream_server: cannot listen on 127.0.0.1\n");
    return 1;
  }
  // Written to a temporary name and renamed, so a reader never sees half a port.
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  {
    std::ofstream out(port_file + ".tmp");
    out << port << "\n";
  }
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());

  // The signals were blocked before any gRPC thread started, so they all wait here.
  timespec an_hour{3600, 0};
  (void)sigtimedwait(&signals, nullptr, &an_hour);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace
}  // namespace gpool::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return gpool::bench::Main();
}
